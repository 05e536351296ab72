"""Attribute sampling plans of ISO 2859-1 (single sampling), and the switching rules.

ISO 2859-1 indexes a sampling plan by the lot size, the inspection level and the acceptance
quality limit (AQL): Table 1 gives a sample size code letter, and the master table of the current
severity (Table 2-A normal, 2-B tightened, 2-C reduced) gives, for that letter and AQL, a sample
size with an acceptance number Ac and a rejection number Re, or an arrow. :func:`plan` follows
the arrow ("use the first sampling plan below / above the arrow") to the row that holds a plan
and takes that row's sample size and code letter with it. :func:`verdict` judges a lot by the
number of nonconforming items (or nonconformities) found. :class:`Switching` replays the lots
of a product stream through the switching rules of clause 9 and names the severity for the
next lot.

    >>> from evledger_verify.sampling import plan, verdict
    >>> p = plan(3000, "II", "0.65", "normal")
    >>> (p.code_letter, p.sample_size, p.accept, p.reject)
    ('K', 125, 2, 3)
    >>> verdict(p, 2), verdict(p, 3)
    ('accept', 'reject')
    >>> small = plan(8, "II", 0.65, "normal")  # letter A, the arrow leads to F, n = 20 > 8
    >>> (small.code_letter, small.sample_size, small.full_inspection, small.accept)
    ('F', 8, True, 0)

Two editions. ISO 2859-1:1999 and ANSI/ASQ Z1.4-2003 (whose tables are those of MIL-STD-105E)
share Table 1 and the normal table. They differ in the reduced table: ISO 2859-1:1999 "changed
[the reduced plans] to eliminate the gap between the acceptance and rejection numbers" (its
foreword), while Z1.4 keeps plans such as n = 20, Ac 0, Re 2, under which a lot with more than
Ac but fewer than Re nonconforming is accepted and normal inspection is reinstated (the third
:data:`Verdict`). They differ in one cell of the tightened table as well (code letter A at AQL
10: ISO has n = 2, Ac 0, Re 1; Z1.4 an arrow down to D). Pass ``edition`` to choose; ISO is the
default. :class:`Switching` implements the switching rules of both editions. They are the same
except for the switch from normal to reduced inspection: ISO 2859-1:1999 bases it on the
switching score, Z1.4-2003 (8.3.3) on the preceding 10 lots on normal inspection all accepted
and the total nonconforming in their samples within the limit numbers of its Table VIII. The
limit numbers are not implemented: Z1.4 8.5 lets the supplier and the customer drop them by
agreement, which choosing the Z1.4 edition here stands for (use the ISO edition, whose score
replaced them, where they must apply).

100 per cent inspection. Where the sample size that the table (after its arrows) gives equals or
exceeds the lot size, the standard says to carry out 100 per cent inspection. :func:`plan` then
sets ``sample_size`` to the lot size and ``full_inspection`` to True, and keeps the acceptance
and rejection numbers of the plan the arrows led to: every item is inspected and the lot is
judged, and counted by the switching rules, by those numbers. The standard does not say how a
fully inspected lot is judged; keeping Ac and Re is a choice, made so that every lot has a
verdict.

Cells the printed tables leave open. In the normal table, code letter A at AQL 10 is an arrow up
with no plan above it; like the AQL Inspector's Rule and the AQLSchemes package, this module
uses the first plan below it (code letter C, n = 5, Ac 1, Re 2), and does the same for the Z1.4
reduced table. The tables below are written with that arrow pointing down.

Sources. Every cell (code letter, AQL, severity, edition) was checked against two independent
published transcriptions: GB/T 2828.1-2012 Tables 2-A, 2-B and 2-C (identical to ISO
2859-1:1999), transcribed from the scanned standard in the test fixtures of
github.com/nihantao-crosis/quality-platform, for the ISO edition; and MIL-STD-105E / ANSI/ASQ Z1.4
Tables II-A, II-B and II-C as held by John Lawson's AQLSchemes R package (function AAZ14Single),
for the Z1.4 edition. The two agree on all 416 cells of the normal table and on all but A/10 of
the tightened one; the reduced tables rest on one transcription each (and on the AQL
Inspector's Rule's example of both). Table 1 agrees with both and with the ANSI/ASQC Z1.4 chart
published at pdfcoffee.com ("AQL sampling chart").

Errors. Bad input raises :class:`ValueError` with a message of the form "what: expected X, got
Y"; callers wrap it into their own error root at their boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final, Literal

__all__ = [
    "AQLS",
    "EDITIONS",
    "LEVELS",
    "SEVERITIES",
    "Edition",
    "Lot",
    "Plan",
    "Severity",
    "State",
    "Switching",
    "Verdict",
    "aql_label",
    "code_letter",
    "plan",
    "verdict",
]

Edition = Literal["ISO 2859-1:1999", "ANSI/ASQ Z1.4-2003"]
Severity = Literal["normal", "tightened", "reduced"]
#: What a lot's inspection decides. ``accept_reinstate_normal`` happens only under the reduced
#: plans of ANSI/ASQ Z1.4, when more than Ac but fewer than Re were found: the lot is accepted
#: and normal inspection is reinstated for the next lot.
Verdict = Literal["accept", "reject", "accept_reinstate_normal"]
#: The severity for the next lot, or ``discontinued`` (clause 9.4).
State = Literal["normal", "tightened", "reduced", "discontinued"]

EDITIONS: Final[tuple[Edition, ...]] = ("ISO 2859-1:1999", "ANSI/ASQ Z1.4-2003")
SEVERITIES: Final[tuple[Severity, ...]] = ("normal", "tightened", "reduced")
#: Inspection levels: the special levels S-1 to S-4, then the general levels I, II and III.
LEVELS: Final[tuple[str, ...]] = ("S-1", "S-2", "S-3", "S-4", "I", "II", "III")
#: The AQLs of the master tables, as printed (percent nonconforming items up to 10,
#: nonconformities per 100 items for all of them).
AQLS: Final[tuple[str, ...]] = (
    "0.010", "0.015", "0.025", "0.040", "0.065", "0.10", "0.15", "0.25", "0.40", "0.65",
    "1.0", "1.5", "2.5", "4.0", "6.5", "10", "15", "25", "40", "65",
    "100", "150", "250", "400", "650", "1000",
)  # fmt: skip

# Table 1 - Sample size code letters. Each row: the largest lot size of the range (None: and
# over), then the letters for S-1, S-2, S-3, S-4, I, II, III.
_TABLE_1: Final[tuple[tuple[int | None, str], ...]] = (
    (8, "A A A A A A B"),
    (15, "A A A A A B C"),
    (25, "A A B B B C D"),
    (50, "A B B C C D E"),
    (90, "B B C C C E F"),
    (150, "B B C D D F G"),
    (280, "B C D E E G H"),
    (500, "B C D E F H J"),
    (1200, "C C E F G J K"),
    (3200, "C D E G H K L"),
    (10000, "C D F G J L M"),
    (35000, "C D F H K M N"),
    (150000, "D E G J L N P"),
    (500000, "D E G J M P Q"),
    (None, "D E H K N Q R"),
)

# The master tables, as printed: for each code letter its sample size n, then per AQL either
# "Ac/Re", an arrow ("↓": use the first plan below it; "↑": the first plan above it), or "-"
# (no plan: the row S of the tightened table holds one plan only). Each table is printed in two
# halves, the AQLs of each half in its "code" line.

# Table 2-A (ISO 2859-1:1999) = Table II-A (ANSI/ASQ Z1.4-2003): normal inspection.
_NORMAL_TEXT = """
code    n 0.010 0.015 0.025 0.040 0.065  0.10  0.15  0.25  0.40  0.65   1.0
A       2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
B       3     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
C       5     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
D       8     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
E      13     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1
F      20     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑
G      32     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓
H      50     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓   1/2
J      80     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓   1/2   2/3
K     125     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓   1/2   2/3   3/4
L     200     ↓     ↓     ↓     ↓   0/1     ↑     ↓   1/2   2/3   3/4   5/6
M     315     ↓     ↓     ↓   0/1     ↑     ↓   1/2   2/3   3/4   5/6   7/8
N     500     ↓     ↓   0/1     ↑     ↓   1/2   2/3   3/4   5/6   7/8 10/11
P     800     ↓   0/1     ↑     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15
Q    1250   0/1     ↑     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22
R    2000     ↑     ↑   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ↑

code    n   1.5   2.5   4.0   6.5    10    15    25    40    65   100   150   250   400   650  1000
A       2     ↓     ↓     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31
B       3     ↓     ↓   0/1     ↑     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31 44/45
C       5     ↓   0/1     ↑     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31 44/45     ↑
D       8   0/1     ↑     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31 44/45     ↑     ↑
E      13     ↑     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31 44/45     ↑     ↑     ↑
F      20     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ↑     ↑     ↑     ↑     ↑     ↑
G      32   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ↑     ↑     ↑     ↑     ↑     ↑     ↑
H      50   2/3   3/4   5/6   7/8 10/11 14/15 21/22     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
J      80   3/4   5/6   7/8 10/11 14/15 21/22     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
K     125   5/6   7/8 10/11 14/15 21/22     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
L     200   7/8 10/11 14/15 21/22     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
M     315 10/11 14/15 21/22     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
N     500 14/15 21/22     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
P     800 21/22     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
Q    1250     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
R    2000     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
"""

# Table 2-B (ISO 2859-1:1999): tightened inspection. Z1.4 Table II-B differs in one cell, A/10.
_TIGHTENED_TEXT = """
code    n 0.010 0.015 0.025 0.040 0.065  0.10  0.15  0.25  0.40  0.65   1.0
A       2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
B       3     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
C       5     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
D       8     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
E      13     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
F      20     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1
G      32     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↓
H      50     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↓     ↓
J      80     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↓     ↓   1/2
K     125     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↓     ↓   1/2   2/3
L     200     ↓     ↓     ↓     ↓     ↓   0/1     ↓     ↓   1/2   2/3   3/4
M     315     ↓     ↓     ↓     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6
N     500     ↓     ↓     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6   8/9
P     800     ↓     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6   8/9 12/13
Q    1250     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6   8/9 12/13 18/19
R    2000   0/1     ↑     ↓   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ↑
S    3150     -     -   1/2     -     -     -     -     -     -     -     -

code    n   1.5   2.5   4.0   6.5    10    15    25    40    65   100   150   250   400   650  1000
A       2     ↓     ↓     ↓     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6   8/9 12/13 18/19 27/28
B       3     ↓     ↓     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6   8/9 12/13 18/19 27/28 41/42
C       5     ↓     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6   8/9 12/13 18/19 27/28 41/42     ↑
D       8     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6   8/9 12/13 18/19 27/28 41/42     ↑     ↑
E      13   0/1     ↓     ↓   1/2   2/3   3/4   5/6   8/9 12/13 18/19 27/28 41/42     ↑     ↑     ↑
F      20     ↓     ↓   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ↑     ↑     ↑     ↑     ↑     ↑
G      32     ↓   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ↑     ↑     ↑     ↑     ↑     ↑     ↑
H      50   1/2   2/3   3/4   5/6   8/9 12/13 18/19     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
J      80   2/3   3/4   5/6   8/9 12/13 18/19     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
K     125   3/4   5/6   8/9 12/13 18/19     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
L     200   5/6   8/9 12/13 18/19     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
M     315   8/9 12/13 18/19     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
N     500 12/13 18/19     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
P     800 18/19     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
Q    1250     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
R    2000     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
S    3150     -     -     -     -     -     -     -     -     -     -     -     -     -     -     -
"""

# Table 2-C (ISO 2859-1:1999): reduced inspection, with Re = Ac + 1 throughout.
_REDUCED_ISO_TEXT = """
code    n 0.010 0.015 0.025 0.040 0.065  0.10  0.15  0.25  0.40  0.65   1.0
A       2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
B       2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
C       2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
D       3     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
E       5     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1
F       8     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑
G      13     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓
H      20     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓     ↓
J      32     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓     ↓   1/2
K      50     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓     ↓   1/2   2/3
L      80     ↓     ↓     ↓     ↓   0/1     ↑     ↓     ↓   1/2   2/3   3/4
M     125     ↓     ↓     ↓   0/1     ↑     ↓     ↓   1/2   2/3   3/4   5/6
N     200     ↓     ↓   0/1     ↑     ↓     ↓   1/2   2/3   3/4   5/6   6/7
P     315     ↓   0/1     ↑     ↓     ↓   1/2   2/3   3/4   5/6   6/7   8/9
Q     500   0/1     ↑     ↑     ↓   1/2   2/3   3/4   5/6   6/7   8/9 10/11
R     800     ↑     ↑     ↑   1/2   2/3   3/4   5/6   6/7   8/9 10/11     ↑

code    n   1.5   2.5   4.0   6.5    10    15    25    40    65   100   150   250   400   650  1000
A       2     ↓     ↓     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31
B       2     ↓     ↓   0/1     ↑     ↓     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31
C       2     ↓   0/1     ↑     ↓     ↓   1/2   2/3   3/4   5/6   6/7   8/9 10/11 14/15 21/22     ↑
D       3   0/1     ↑     ↓     ↓   1/2   2/3   3/4   5/6   6/7   8/9 10/11 14/15 21/22     ↑     ↑
E       5     ↑     ↓     ↓   1/2   2/3   3/4   5/6   6/7   8/9 10/11 14/15 21/22     ↑     ↑     ↑
F       8     ↓     ↓   1/2   2/3   3/4   5/6   6/7   8/9 10/11     ↑     ↑     ↑     ↑     ↑     ↑
G      13     ↓   1/2   2/3   3/4   5/6   6/7   8/9 10/11     ↑     ↑     ↑     ↑     ↑     ↑     ↑
H      20   1/2   2/3   3/4   5/6   6/7   8/9 10/11     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
J      32   2/3   3/4   5/6   6/7   8/9 10/11     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
K      50   3/4   5/6   6/7   8/9 10/11     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
L      80   5/6   6/7   8/9 10/11     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
M     125   6/7   8/9 10/11     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
N     200   8/9 10/11     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
P     315 10/11     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
Q     500     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
R     800     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
"""

# Table II-C (ANSI/ASQ Z1.4-2003): reduced inspection, with gaps between Ac and Re. Rows A to C
# all have n = 2; where a published transcription gives only the plan a cell leads to, the top
# rows point down to the row that holds it.
_REDUCED_Z14_TEXT = """
code    n 0.010 0.015 0.025 0.040 0.065  0.10  0.15  0.25  0.40  0.65   1.0
A       2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
B       2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
C       2     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
D       3     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓
E       5     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1
F       8     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑
G      13     ↓     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓
H      20     ↓     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓   0/2
J      32     ↓     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓   0/2   1/3
K      50     ↓     ↓     ↓     ↓     ↓   0/1     ↑     ↓   0/2   1/3   1/4
L      80     ↓     ↓     ↓     ↓   0/1     ↑     ↓   0/2   1/3   1/4   2/5
M     125     ↓     ↓     ↓   0/1     ↑     ↓   0/2   1/3   1/4   2/5   3/6
N     200     ↓     ↓   0/1     ↑     ↓   0/2   1/3   1/4   2/5   3/6   5/8
P     315     ↓   0/1     ↑     ↓   0/2   1/3   1/4   2/5   3/6   5/8  7/10
Q     500   0/1     ↑     ↓   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13
R     800     ↑     ↑   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ↑

code    n   1.5   2.5   4.0   6.5    10    15    25    40    65   100   150   250   400   650  1000
A       2     ↓     ↓     ↓   0/1     ↓     ↓   1/2   2/3   3/4   5/6   7/8 10/11 14/15 21/22 30/31
B       2     ↓     ↓   0/1     ↑     ↓   0/2   1/3   2/4   3/5   5/6   7/8 10/11 14/15 21/22 30/31
C       2     ↓   0/1     ↑     ↓   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13 14/17 21/24     ↑
D       3   0/1     ↑     ↓   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13 14/17 21/24     ↑     ↑
E       5     ↑     ↓   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13 14/17 21/24     ↑     ↑     ↑
F       8     ↓   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ↑     ↑     ↑     ↑     ↑     ↑
G      13   0/2   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ↑     ↑     ↑     ↑     ↑     ↑     ↑
H      20   1/3   1/4   2/5   3/6   5/8  7/10 10/13     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
J      32   1/4   2/5   3/6   5/8  7/10 10/13     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
K      50   2/5   3/6   5/8  7/10 10/13     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
L      80   3/6   5/8  7/10 10/13     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
M     125   5/8  7/10 10/13     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
N     200  7/10 10/13     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
P     315 10/13     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
Q     500     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
R     800     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑     ↑
"""

_Arrow = Literal["↓", "↑"]
_Cell = tuple[int, int] | _Arrow | None


@dataclass(frozen=True)
class _Row:
    sample_size: int
    cells: tuple[_Cell, ...]  # in the order of AQLS


_Table = dict[str, _Row]  # code letter -> row, in table order (A first)


def _parse_cell(printed: str, where: str) -> _Cell:
    if printed == "↓":
        return "↓"
    if printed == "↑":
        return "↑"
    if printed == "-":
        return None
    match = re.fullmatch(r"(\d+)/(\d+)", printed)
    if match is None or int(match[2]) <= int(match[1]):
        raise ValueError(f"{where}: expected Ac/Re with Re > Ac, an arrow or '-', got {printed!r}")
    return int(match[1]), int(match[2])


def _parse_table(name: str, text: str) -> _Table:
    """Read a master table as printed above; refuse a row that misses or repeats an AQL."""
    sizes: dict[str, int] = {}
    cells: dict[str, dict[str, _Cell]] = {}
    header: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == "code":
            header = fields[2:]
            continue
        letter, size, printed = fields[0], int(fields[1]), fields[2:]
        if len(printed) != len(header) or sizes.setdefault(letter, size) != size:
            raise ValueError(f"{name} row {letter}: expected {len(header)} cells and one n")
        row = cells.setdefault(letter, {})
        for aql, cell in zip(header, printed, strict=True):
            if aql in row:
                raise ValueError(f"{name} row {letter}: AQL {aql} given twice")
            row[aql] = _parse_cell(cell, f"{name} row {letter} AQL {aql}")
    table: _Table = {}
    for letter, row in cells.items():
        if sorted(row, key=AQLS.index) != list(AQLS):
            raise ValueError(f"{name} row {letter}: expected the {len(AQLS)} AQLs, got {row}")
        table[letter] = _Row(sizes[letter], tuple(row[aql] for aql in AQLS))
    return table


def _patched(table: _Table, letter: str, aql: str, cell: _Cell) -> _Table:
    row = table[letter]
    cells = list(row.cells)
    cells[AQLS.index(aql)] = cell
    return {**table, letter: replace(row, cells=tuple(cells))}


_NORMAL: Final = _parse_table("Table 2-A", _NORMAL_TEXT)
_TIGHTENED_ISO: Final = _parse_table("Table 2-B", _TIGHTENED_TEXT)
_MASTER: Final[dict[Edition, dict[Severity, _Table]]] = {
    "ISO 2859-1:1999": {
        "normal": _NORMAL,
        "tightened": _TIGHTENED_ISO,
        "reduced": _parse_table("Table 2-C", _REDUCED_ISO_TEXT),
    },
    "ANSI/ASQ Z1.4-2003": {
        "normal": _NORMAL,
        # Z1.4 Table II-B prints an arrow down at A/10 (to D: n = 8, Ac 1, Re 2) where ISO
        # Table 2-B has the plan n = 2, Ac 0, Re 1.
        "tightened": _patched(_TIGHTENED_ISO, "A", "10", "↓"),
        "reduced": _parse_table("Table II-C", _REDUCED_Z14_TEXT),
    },
}


@dataclass(frozen=True)
class Plan:
    """A single sampling plan for one lot.

    ``table1_letter`` is the code letter Table 1 gives; ``code_letter`` the letter of the row
    the arrows led to, whose sample size the plan uses. When that sample size is not smaller
    than the lot, ``full_inspection`` is True and ``sample_size`` is the lot size.
    """

    edition: Edition
    severity: Severity
    lot_size: int
    level: str
    aql: str
    table1_letter: str
    code_letter: str
    sample_size: int
    accept: int
    reject: int
    full_inspection: bool


def _edition(edition: str) -> Edition:
    for known in EDITIONS:
        if edition == known:
            return known
    raise ValueError(f"edition: expected one of {', '.join(EDITIONS)}, got {edition!r}")


def _severity(severity: str) -> Severity:
    for known in SEVERITIES:
        if severity == known:
            return known
    raise ValueError(f"severity: expected one of {', '.join(SEVERITIES)}, got {severity!r}")


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what}: expected a non-negative integer, got {value!r}")
    return value


_AQL_BY_VALUE: Final[dict[Decimal, str]] = {Decimal(label): label for label in AQLS}


def aql_label(aql: float | str) -> str:
    """The AQL as the tables print it: ``0.65``, ``"0.65"`` and ``"0.650"`` give ``"0.65"``."""
    value: Decimal | None = None
    if isinstance(aql, str) and re.fullmatch(r"\d+(\.\d+)?", aql):
        value = Decimal(aql)
    elif isinstance(aql, int | float) and not isinstance(aql, bool):
        value = Decimal(repr(float(aql)))  # the shortest decimal that reads back as the float
    label = _AQL_BY_VALUE.get(value) if value is not None and value.is_finite() else None
    if label is None:
        raise ValueError(f"AQL: expected one of {', '.join(AQLS)}, got {aql!r}")
    return label


def code_letter(lot_size: int, level: str) -> str:
    """The sample size code letter of Table 1 for a lot size and inspection level."""
    if isinstance(lot_size, bool) or not isinstance(lot_size, int) or lot_size < 2:
        raise ValueError(f"lot size: expected an integer of at least 2, got {lot_size!r}")
    if level not in LEVELS:
        raise ValueError(f"inspection level: expected one of {', '.join(LEVELS)}, got {level!r}")
    for largest, letters in _TABLE_1:
        if largest is None or lot_size <= largest:
            return letters.split()[LEVELS.index(level)]
    raise AssertionError("Table 1 ends with an open range")  # pragma: no cover


def _resolve(table: _Table, letter: str, aql: str) -> tuple[str, int, int, int]:
    """Follow the arrows from (letter, AQL): the letter reached, its n, Ac and Re."""
    letters = list(table)
    row, column = letters.index(letter), AQLS.index(aql)
    while True:
        cell = table[letters[row]].cells[column]
        if cell == "↓":
            row += 1
        elif cell == "↑":
            row -= 1
        elif cell is None:
            raise AssertionError(f"no plan at {letters[row]}/{aql}")  # the tests visit all
        else:
            return letters[row], table[letters[row]].sample_size, cell[0], cell[1]


def plan(
    lot_size: int,
    level: str,
    aql: float | str,
    severity: Severity,
    *,
    edition: Edition = "ISO 2859-1:1999",
) -> Plan:
    """The single sampling plan for a lot: Table 1, then the master table of ``severity``."""
    letter = code_letter(lot_size, level)
    label = aql_label(aql)
    checked_edition, checked_severity = _edition(edition), _severity(severity)
    final, size, accept, reject = _resolve(
        _MASTER[checked_edition][checked_severity], letter, label
    )
    return Plan(
        edition=checked_edition,
        severity=checked_severity,
        lot_size=lot_size,
        level=level,
        aql=label,
        table1_letter=letter,
        code_letter=final,
        sample_size=min(size, lot_size),
        accept=accept,
        reject=reject,
        full_inspection=size >= lot_size,
    )


def verdict(plan: Plan, nonconforming: int) -> Verdict:
    """Judge a lot by the number of nonconforming items (or nonconformities) in its sample.

    Accept at Ac or fewer, reject at Re or more. In between (only under the reduced plans of
    ANSI/ASQ Z1.4) the lot is accepted and normal inspection is reinstated. The count is not
    bounded by the sample size: for nonconformities per 100 items it may exceed it.
    """
    found = _count(nonconforming, "nonconforming count")
    if found <= plan.accept:
        return "accept"
    if found >= plan.reject:
        return "reject"
    return "accept_reinstate_normal"


def _accepted_one_step_tighter(plan: Plan, nonconforming: int) -> bool:
    """Whether the lot would have been accepted had the AQL been one step tighter (9.3.3.2).

    For a normal plan with Ac of 2 or more, the next tighter AQL in the same row of Table 2-A
    always holds a plan with the same sample size (the tests check every such cell).
    """
    tighter = AQLS[AQLS.index(plan.aql) - 1]
    cell = _MASTER[plan.edition]["normal"][plan.code_letter].cells[AQLS.index(tighter)]
    if not isinstance(cell, tuple):
        raise AssertionError(f"no plan at {plan.code_letter}/{tighter}")  # the tests visit all
    return nonconforming <= cell[0]


@dataclass(frozen=True)
class Lot:
    """One lot's original inspection (resubmitted lots do not count for the switching rules).

    ``plan`` must be the plan the tables give for its lot size, level, AQL, severity and
    edition. ``production_steady`` and ``reduced_approved`` are the two conditions of 9.3.3 for
    switching to reduced inspection besides the score ("production is at a steady rate";
    "reduced inspection is considered desirable by the responsible authority"); under reduced
    inspection, either one failing reinstates normal inspection (9.3.4).
    """

    plan: Plan
    nonconforming: int
    production_steady: bool = True
    reduced_approved: bool = True

    def __post_init__(self) -> None:
        _count(self.nonconforming, "nonconforming count")
        given = self.plan
        expected = plan(
            given.lot_size, given.level, given.aql, given.severity, edition=given.edition
        )
        if given != expected:
            raise ValueError(f"lot: expected the plan the tables give, {expected}, got {given}")


@dataclass(frozen=True)
class Switching:
    """The switching rules of ISO 2859-1:1999 clause 9 as a pure state: replay lots through it.

    - normal to tightened: 2 of 5 or fewer consecutive lots not accepted (9.3.1);
    - tightened to normal: 5 consecutive lots accepted (9.3.2);
    - normal to reduced: switching score at least 30, production steady and the responsible
      authority approving (9.3.3). The score starts at 0 with each period of normal inspection
      and, after each lot: with Ac 2 or more, gains 3 if the lot would have been accepted at the
      next tighter AQL, else returns to 0; with Ac 0 or 1, gains 2 if the lot is accepted, else
      returns to 0 (9.3.3.2, single sampling). Under ANSI/ASQ Z1.4-2003 instead: the preceding
      10 lots on normal inspection all accepted (8.3.3 a, c, d; b dropped as 8.5 allows);
    - reduced to normal: a lot not accepted, a Z1.4 lot accepted with normal reinstated, or
      production no longer steady or reduced inspection no longer approved (9.3.4);
    - discontinued: 5 lots not accepted, in total, during one period of tightened inspection
      (9.4); :meth:`resumed` restarts tightened inspection once corrective action is accepted.

        >>> from evledger_verify.sampling import Lot, Switching, plan
        >>> p = plan(3000, "II", "0.65", "normal")
        >>> Switching.replay([Lot(p, 3), Lot(p, 0), Lot(p, 4)]).state
        'tightened'
    """

    state: State = "normal"
    #: The switching score (normal inspection only).
    score: int = 0
    #: Normal inspection: whether each of the last (up to 5) lots was accepted, oldest first.
    recent: tuple[bool, ...] = ()
    #: Normal inspection: lots accepted in a row in this period (ANSI/ASQ Z1.4-2003 8.3.3).
    run: int = 0
    #: Tightened inspection: lots accepted in a row, and lots not accepted in this period.
    accepted_in_a_row: int = 0
    not_accepted: int = 0

    @classmethod
    def replay(cls, lots: Iterable[Lot], start: Switching | None = None) -> Switching:
        """The state after the lots, in order, from ``start`` (normal inspection by default)."""
        state = start if start is not None else cls()
        for lot in lots:
            state = state.after(lot)
        return state

    def after(self, lot: Lot) -> Switching:
        """The state after one more lot, inspected under the current severity."""
        if self.state == "discontinued":
            raise ValueError(
                "switching: expected no lot while inspection is discontinued (9.4), got one; "
                "call resumed() once the supplier's corrective action is accepted"
            )
        if lot.plan.severity != self.state:
            raise ValueError(
                f"lot: expected a plan for {self.state} inspection, got {lot.plan.severity}"
            )
        outcome = verdict(lot.plan, lot.nonconforming)
        accepted = outcome != "reject"
        if self.state == "normal":
            recent = (*self.recent, accepted)[-5:]
            if recent.count(False) >= 2:
                return Switching(state="tightened")
            if lot.plan.accept >= 2:
                gain = 3 if _accepted_one_step_tighter(lot.plan, lot.nonconforming) else 0
            else:
                gain = 2 if accepted else 0
            score = self.score + gain if gain else 0
            run = self.run + 1 if accepted else 0
            earned = run >= 10 if lot.plan.edition == "ANSI/ASQ Z1.4-2003" else score >= 30
            if earned and lot.production_steady and lot.reduced_approved:
                return Switching(state="reduced")
            return Switching(state="normal", score=score, recent=recent, run=run)
        if self.state == "tightened":
            if accepted:
                if self.accepted_in_a_row + 1 >= 5:
                    return Switching(state="normal")
                return replace(self, accepted_in_a_row=self.accepted_in_a_row + 1)
            if self.not_accepted + 1 >= 5:
                return Switching(state="discontinued")
            return replace(self, accepted_in_a_row=0, not_accepted=self.not_accepted + 1)
        # reduced
        if outcome != "accept" or not (lot.production_steady and lot.reduced_approved):
            return Switching(state="normal")
        return self

    def resumed(self) -> Switching:
        """Tightened inspection again after a discontinuation (9.4)."""
        if self.state != "discontinued":
            raise ValueError(f"switching: expected a discontinued inspection, got {self.state}")
        return Switching(state="tightened")
