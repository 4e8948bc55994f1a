"""The DVC pipeline as the flows see it: its stages in pipeline order and each motion's part of it.

DVC is the one definition of the pipeline. Nothing here names a stage: the stage list, the edges and the
outputs are read from `dvc.yaml` through DVC's Python API, so a stage added there is picked up by every flow.
A *motion's stages* are the stages generated for it by a `foreach` (`ingest@slide_right`, ...) plus every
stage upstream of them (`base`, `examples@slide_right`, ...). A *joint* stage (the cross-motion `report`) is
downstream of several motions and belongs to none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml


class FlowError(RuntimeError):
    """What a user of the flows can fix (the project, a parameter, a setting), or a run that failed; the base
    of the flows' errors. The flows stay apart from lamp_core, hence a base of their own."""


@dataclass(frozen=True)
class Stage:
    """One DVC stage, as plain data that can travel to any worker."""

    address: str  # what `dvc repro` takes: "ingest@slide_right", or "sub/dvc.yaml:stage" outside the root
    group: str  # the stage's name in dvc.yaml before any foreach key: "ingest"
    key: str | None  # the foreach key ("slide_right"), None for a plain stage
    upstream: tuple[str, ...]  # addresses of the stages whose outputs this stage reads
    outs: tuple[str, ...]  # its outputs, relative to the project root
    metrics: tuple[str, ...]  # the outputs that are DVC metrics files


@dataclass(frozen=True)
class Pipeline:
    """The stages of one DVC project in pipeline order (dependencies first, ties in dvc.yaml order)."""

    root: Path
    stages: tuple[Stage, ...]
    motions: tuple[str, ...]  # motion names, from `motions:` in params.yaml (the foreach keys otherwise)
    default_remote: str | None  # the DVC remote `dvc push` uses when none is named

    @classmethod
    def load(cls, root: str | Path = ".") -> Pipeline:
        """Read the pipeline of the DVC project at `root`."""
        root = Path(root).resolve()
        stages, remote = _read_dvc(root)
        motions = _read_motion_names(root) or tuple(dict.fromkeys(s.key for s in stages if s.key))
        return cls(root=root, stages=stages, motions=motions, default_remote=remote)

    def stage(self, address: str) -> Stage:
        """The stage with this address."""
        for stage in self.stages:
            if stage.address == address:
                return stage
        raise FlowError(f"{self.root / 'dvc.yaml'}: no stage {address!r}")

    def upstream_closure(self, addresses: Iterable[str]) -> set[str]:
        """The given stages and every stage upstream of them."""
        by_address = {s.address: s for s in self.stages}
        seen: set[str] = set()
        todo = list(addresses)
        while todo:
            address = todo.pop()
            if address not in seen:
                seen.add(address)
                todo.extend(by_address[address].upstream)
        return seen

    def own_stages(self, motion: str) -> list[Stage]:
        """The stages generated for `motion` by a foreach, in pipeline order."""
        return [s for s in self.stages if s.key == motion]

    def motion_stages(self, motion: str, groups: Iterable[str] | None = None) -> list[Stage]:
        """Everything `motion` needs: its own stages and all their upstream stages, in pipeline order.

        With `groups` (stage names such as "frames"), only those of its stages and what they need.
        """
        own = self.own_stages(motion)
        if not own:
            known = ", ".join(self.motions) or "none"
            raise FlowError(
                f"{self.root / 'dvc.yaml'}: no stage is generated for motion {motion!r} (motions: {known})"
            )
        if groups is not None:
            groups = set(groups)
            unknown = groups - {s.group for s in own}
            if unknown:
                raise FlowError(
                    f"{self.root / 'dvc.yaml'}: motion {motion!r} has no stage {', '.join(sorted(unknown))} "
                    f"(its stages: {', '.join(s.group for s in own)})"
                )
            own = [s for s in own if s.group in groups]
        needed = self.upstream_closure(s.address for s in own)
        return [s for s in self.stages if s.address in needed]

    def joint_stages(self, motions: Iterable[str]) -> list[Stage]:
        """Cross-motion stages whose every motion input is among `motions` (so running them runs no other).

        A joint stage belongs to no motion and is downstream of at least one of them; one that also reads
        a motion outside `motions` is left out, since `dvc repro` of it would run that motion too.
        """
        chosen = set(motions)
        keyed = {s.address: s.key for s in self.stages if s.key in self.motions}
        joint = []
        for stage in self.stages:
            if stage.key in self.motions:
                continue
            inputs = {keyed[a] for a in self.upstream_closure([stage.address]) if a in keyed}
            if inputs and inputs <= chosen:
                joint.append(stage)
        return joint

    def plan(
        self, motions: Iterable[str], include_joint: bool = True, groups: Iterable[str] | None = None
    ) -> list[Stage]:
        """Every stage to run for `motions` (only their `groups` stages and what those need, if given), each
        once, in pipeline order: shared upstream stages (`base`) appear once, so no two runs race on them."""
        motions = list(motions)
        needed: set[str] = set()
        for motion in motions:
            needed.update(s.address for s in self.motion_stages(motion, groups))
        if include_joint:
            needed = self.upstream_closure(needed | {s.address for s in self.joint_stages(motions)})
        return [s for s in self.stages if s.address in needed]


def _read_dvc(root: Path) -> tuple[tuple[Stage, ...], str | None]:
    """Stages of the project at `root` in pipeline order, and its default remote, via DVC's Python API."""
    import networkx as nx
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    if not (root / ".dvc").is_dir():
        raise FlowError(f"{root}: not a DVC project (no .dvc/ directory; run `dvc init`)")
    try:
        with Repo(str(root)) as repo:
            dvc_stages = [s for s in repo.index.stages if s.cmd]  # tracked-file stages (.dvc) have no cmd
            graph = repo.index.graph  # edges point from a stage to the stages it depends on
            remote = repo.config["core"].get("remote")
            order = {id(s): i for i, s in enumerate(dvc_stages)}
            wanted = set(order)
            address = {id(s): _address(s, root) for s in dvc_stages}
            upstream = {
                id(s): tuple(address[id(d)] for d in graph.successors(s) if id(d) in wanted)
                for s in dvc_stages
            }
            # Dependencies first; among stages free to run, the one written first in dvc.yaml.
            sorted_stages = nx.lexicographical_topological_sort(
                graph.reverse(copy=True).subgraph(dvc_stages), key=lambda s: order[id(s)]
            )
            stages = tuple(_as_stage(s, address[id(s)], upstream[id(s)], root) for s in sorted_stages)
    except DvcException as exc:
        raise FlowError(f"{root}: DVC cannot read the pipeline: {exc}") from None
    if not stages:
        raise FlowError(f"{root / 'dvc.yaml'}: the project defines no stages")
    return stages, remote


def _address(dvc_stage, root: Path) -> str:
    """The stage's `dvc repro` target from the project root (DVC's `addressing` is relative to the cwd)."""
    dvcfile = Path(_relative(dvc_stage.path, root))
    return dvc_stage.name if dvcfile == Path("dvc.yaml") else f"{dvcfile.as_posix()}:{dvc_stage.name}"


def _as_stage(dvc_stage, address: str, upstream: tuple[str, ...], root: Path) -> Stage:
    group, sep, key = dvc_stage.name.partition("@")
    outs = tuple(_relative(o.fs_path, root) for o in dvc_stage.outs)
    metrics = tuple(_relative(o.fs_path, root) for o in dvc_stage.outs if o.metric)
    return Stage(
        address=address,
        group=group,
        key=key if sep else None,
        upstream=upstream,
        outs=outs,
        metrics=metrics,
    )


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return path


def _read_motion_names(root: Path) -> tuple[str, ...]:
    path = root / "params.yaml"
    if not path.is_file():
        return ()
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise FlowError(f"{path}: not valid YAML ({exc})") from None
    motions = params.get("motions") if isinstance(params, dict) else None
    return tuple(motions) if isinstance(motions, dict) else ()
