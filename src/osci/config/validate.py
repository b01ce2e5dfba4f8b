"""Cross-object checks: names that must exist, cycles, final and abstract jobs, variants."""

from __future__ import annotations

from typing import TYPE_CHECKING

from osci.config.errors import ErrorList, did_you_mean

if TYPE_CHECKING:
    from osci.config.config import Config

# Connection names a pipeline may use without a `connection` object.
BUILTIN_CONNECTIONS = ("timer", "manual")
PROJECT_KEYS = ("name", "description", "templates", "default-branch", "merge-mode", "queue", "vars")


def validate(config: Config, errors: ErrorList) -> None:
    _check_variants(config, errors)
    _check_parents(config, errors)
    _check_nodesets(config, errors)
    _check_dependencies(config, errors)
    _check_projects(config, errors)
    _check_pipelines(config, errors)


def _check_variants(config: Config, errors: ErrorList) -> None:
    for name, defs in config.jobs.items():
        reference = defs[0]
        parent = reference.get("parent")
        final_at = reference.location if reference.get("final") else None
        for variant in defs[1:]:
            if final_at is not None:
                errors.add(
                    variant.location,
                    f"job '{name}' is final (at {final_at}) and cannot have another variant",
                )
            if "parent" in variant.attrs and variant.attrs["parent"] != parent:
                errors.add(
                    variant.locs["parent"],
                    f"job '{name}': a variant cannot change the parent "
                    f"(the first definition at {reference.location} has parent '{parent}')",
                )
            if variant.get("final"):
                final_at = final_at or variant.location


def _check_parents(config: Config, errors: ErrorList) -> None:
    for name, defs in config.jobs.items():
        reference = defs[0]
        parent = reference.get("parent")
        if parent is None:
            continue
        loc = reference.locs["parent"]
        if parent not in config.jobs:
            hint = did_you_mean(parent, config.jobs)
            errors.add(loc, f"job '{name}': parent job '{parent}' is not defined{hint}")
            continue
        if config.is_final(parent):
            errors.add(loc, f"job '{name}': parent job '{parent}' is final and cannot be inherited from")
        chain = [name]
        current = parent
        while current in config.jobs:
            if current == name:  # each job of a cycle reports it at its own parent line
                errors.add(loc, f"job '{name}': cyclic parents: {' -> '.join([*chain, name])}")
                break
            if current in chain:  # leads into a cycle of other jobs, reported by them
                break
            chain.append(current)
            current = config.jobs[current][0].get("parent")


def _check_nodesets(config: Config, errors: ErrorList) -> None:
    for defs in [*config.jobs.values(), *([e.override] for e in config.all_job_entries() if e.override)]:
        for definition in defs:
            nodeset = definition.get("nodeset")
            if isinstance(nodeset, str) and nodeset not in config.nodesets:
                hint = did_you_mean(nodeset, config.nodesets)
                errors.add(
                    definition.locs["nodeset"],
                    f"job '{definition.name}': nodeset '{nodeset}' is not defined{hint}",
                )


def _check_dependencies(config: Config, errors: ErrorList) -> None:
    graph: dict[str, list] = {}
    definitions = [d for defs in config.jobs.values() for d in defs]
    definitions += [e.override for e in config.all_job_entries() if e.override]
    for definition in definitions:
        for dep in definition.get("dependencies", []):
            if dep.name not in config.jobs:
                hint = did_you_mean(dep.name, config.jobs)
                errors.add(
                    dep.location, f"job '{definition.name}': depends on unknown job '{dep.name}'{hint}"
                )
                continue
            graph.setdefault(definition.name, []).append(dep)
    # depth-first search; a back edge closes a cycle, reported at that dependency's line
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep.name) == 1:
                cycle = stack[stack.index(dep.name) :] + [dep.name]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    errors.add(dep.location, f"job '{node}': dependency cycle: {' -> '.join(cycle)}")
            elif dep.name not in state:
                visit(dep.name)
        stack.pop()
        state[node] = 2

    for node in list(graph):
        if node not in state:
            visit(node)


def _check_projects(config: Config, errors: ErrorList) -> None:
    stanzas = [*config.templates.values(), *(p for ps in config.projects.values() for p in ps)]
    for project in stanzas:
        what = (
            f"{'project-template' if project.is_template else 'project'} '{project.name or '(this project)'}'"
        )
        for template, loc in project.templates:
            if template not in config.templates:
                hint = did_you_mean(template, config.templates)
                errors.add(loc, f"{what}: project-template '{template}' is not defined{hint}")
        for pipeline in project.pipelines.values():
            if config.pipelines and pipeline.name not in config.pipelines:
                hint = did_you_mean(pipeline.name, [*config.pipelines, *PROJECT_KEYS])
                errors.add(pipeline.location, f"{what}: unknown pipeline '{pipeline.name}'{hint}")
            for entry in pipeline.jobs:
                if entry.name not in config.jobs:
                    hint = did_you_mean(entry.name, config.jobs)
                    errors.add(
                        entry.location, f"{what} pipeline '{pipeline.name}': unknown job '{entry.name}'{hint}"
                    )
                elif config.is_abstract(entry.name):
                    errors.add(
                        entry.location,
                        f"{what} pipeline '{pipeline.name}': job '{entry.name}' is abstract and cannot run",
                    )
                elif entry.override and config.is_final(entry.name):
                    errors.add(
                        entry.location,
                        f"{what} pipeline '{pipeline.name}': job '{entry.name}' is final and cannot be overridden",
                    )


def _check_pipelines(config: Config, errors: ErrorList) -> None:
    known = [*config.connections, *BUILTIN_CONNECTIONS]
    for pipeline in config.pipelines.values():
        for name, loc in zip(pipeline.supercedes, pipeline.supercedes_locs, strict=True):
            if name not in config.pipelines:
                hint = did_you_mean(name, config.pipelines)
                errors.add(loc, f"pipeline '{pipeline.name}': supercedes unknown pipeline '{name}'{hint}")
        if not config.connections:
            continue  # connections are configured elsewhere (e.g. a pipeline-only file)
        for name, loc in pipeline.connection_refs:
            if name not in known:
                hint = did_you_mean(name, known)
                errors.add(loc, f"pipeline '{pipeline.name}': unknown connection '{name}'{hint}")
