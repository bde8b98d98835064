"""`tracehouse doctor`: a short plain-language report built from the other analyses."""

from __future__ import annotations

from dataclasses import dataclass

from tracehouse.analytics.report import TEXT, Column, Report


@dataclass
class Diagnosis:
    sections: list[tuple[str, Report]]

    def findings(self) -> list[str]:
        return [f for _, r in self.sections for f in r.findings]


def doctor_report(diagnosis: Diagnosis) -> Report:
    """The diagnosis as a Report, so it travels like the other analyses (JSON, UI, --url). Its notes
    are the sections' notes (what was sampled, what was cut), so a reader knows what a figure covers."""
    rows = [{"topic": heading, "finding": f} for heading, r in diagnosis.sections for f in r.findings]
    notes = [f"{heading}: {note}" for heading, r in diagnosis.sections for note in r.notes]
    return Report("doctor", "tracehouse doctor", diagnosis.findings(),
                  [Column("topic", "topic", TEXT), Column("finding", "finding", TEXT)], rows, notes=notes)
