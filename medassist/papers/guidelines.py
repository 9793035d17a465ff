"""Reporting-guideline checklists (CONSORT, STROBE, CARE, STARD, PRISMA) from assets/guidelines/*.yaml.

    python -m medassist.papers.guidelines                # lists each checklist and its items per section

The items are paraphrased in our own words, not the official texts; each has an id, the paper
section it belongs to, and keywords that suggest a draft sentence addresses it (used by the draft check).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from medassist.model.paths import ASSETS
from medassist.papers import text

FOLDER = ASSETS / "guidelines"
SECTIONS = text.SECTIONS + ["other"]  # where a checklist item belongs in a manuscript
STUDY_TYPES = {  # id -> (English, Chinese)
    "rct": ("Randomised controlled trial", "随机对照试验"),
    "cohort": ("Cohort study", "队列研究"),
    "case_control": ("Case-control study", "病例对照研究"),
    "cross_sectional": ("Cross-sectional study", "横断面研究"),
    "case_report": ("Case report", "病例报告"),
    "diagnostic": ("Diagnostic accuracy study", "诊断准确性研究"),
    "systematic_review": ("Systematic review / meta-analysis", "系统综述 / Meta 分析"),
}


@dataclass(frozen=True)
class Item:
    id: str
    section: str
    item: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Guideline:
    name: str
    full_name: str
    study_types: tuple[str, ...]
    items: tuple[Item, ...]

    def by_section(self) -> dict[str, list[Item]]:
        return {s: [i for i in self.items if i.section == s] for s in SECTIONS}


def load(path: Path) -> Guideline:
    d = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = []
    for raw in d["items"]:
        if raw["section"] not in SECTIONS:
            raise ValueError(f"{path.name}: item {raw['id']}: unknown section {raw['section']!r}")
        items.append(Item(str(raw["id"]), raw["section"], raw["item"], tuple(k.lower() for k in raw.get("keywords", []))))
    return Guideline(d["name"], d["full_name"], tuple(d["study_types"]), tuple(items))


@lru_cache(maxsize=1)
def all_guidelines() -> dict[str, Guideline]:
    return {g.name: g for g in (load(p) for p in sorted(FOLDER.glob("*.yaml")))}


def for_study_type(study_type: str) -> Guideline:
    for g in all_guidelines().values():
        if study_type in g.study_types:
            return g
    raise KeyError(f"No reporting guideline for study type {study_type!r}")


def main() -> None:
    for g in all_guidelines().values():
        print(f"{g.name} — {g.full_name} ({', '.join(g.study_types)}): {len(g.items)} items")
        for section, items in g.by_section().items():
            for i in items:
                print(f"  [{section:12s}] {i.id:4s} {i.item}")
    sys.exit(0)


if __name__ == "__main__":
    main()
