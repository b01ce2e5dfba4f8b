"""`osci server`: connections, scheduler, executor slots, store, reporters and the HTTP API in one process."""
