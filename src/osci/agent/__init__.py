"""`osci agent`: run builds for a server from any machine that can reach it over HTTP(S)."""
