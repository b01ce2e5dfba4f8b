"""Branch and tag listings, and what changed between two of them (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass

ZERO = "0" * 40
HEADS = "refs/heads/"
TAGS = "refs/tags/"


def parse_ls_remote(text: str, extra: tuple[str, ...] = ()) -> dict[str, str]:
    """`git ls-remote` output as {ref: commit} for branches, tags and refs under the `extra`
    prefixes (a gate's proposals); annotated tags map to their commit."""
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in text.splitlines():
        sha, _, ref = line.partition("\t")
        sha, ref = sha.strip(), ref.strip()
        if not sha or not ref.startswith((HEADS, TAGS, *extra)):
            continue
        if ref.endswith("^{}"):
            peeled[ref[:-3]] = sha
        else:
            refs[ref] = sha
    refs.update((ref, sha) for ref, sha in peeled.items() if ref in refs)
    return refs


@dataclass(frozen=True)
class RefChange:
    ref: str
    oldrev: str  # ZERO when created
    newrev: str  # ZERO when deleted

    @property
    def is_tag(self) -> bool:
        return self.ref.startswith(TAGS)

    @property
    def created(self) -> bool:
        return self.oldrev == ZERO

    @property
    def deleted(self) -> bool:
        return self.newrev == ZERO


def diff_refs(old: dict[str, str], new: dict[str, str]) -> list[RefChange]:
    """Every ref created, moved or deleted from `old` to `new`: branches first, then tags, by name."""
    changes = [
        RefChange(ref, old.get(ref, ZERO), new.get(ref, ZERO))
        for ref in set(old) | set(new)
        if old.get(ref) != new.get(ref)
    ]
    return sorted(changes, key=lambda c: (c.is_tag, c.ref))
