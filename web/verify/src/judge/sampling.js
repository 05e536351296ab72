// Attribute sampling plans of ISO 2859-1 (single sampling), and the switching rules: a port of
// evledger_verify/sampling.py (read its docstring for the standard, the two editions, the
// open cells and the sources of the tables, which are copied here as printed there).
//
//   const p = plan(3000n, "II", "0.65", "normal");
//   [p.code_letter, p.sample_size, p.accept, p.reject]   // ["K", 125n, 2n, 3n]
//   verdict(p, 2n), verdict(p, 3n)                        // "accept", "reject"
//
// Python ints are BigInt here (a lot size, a count, n, Ac, Re), as strictjson.js reads them;
// a Number is a Python float, refused where Python refuses a float. Bad input throws
// ValueError (py.js PyValueError, named "ValueError") with Python's message, "what: expected X, got Y".

import { OverflowError, PyValueError as ValueError, asciiDigits, pyRepr } from "./py.js";

export const EDITIONS = Object.freeze(["ISO 2859-1:1999", "ANSI/ASQ Z1.4-2003"]);
export const SEVERITIES = Object.freeze(["normal", "tightened", "reduced"]);
/** Inspection levels: the special levels S-1 to S-4, then the general levels I, II and III. */
export const LEVELS = Object.freeze(["S-1", "S-2", "S-3", "S-4", "I", "II", "III"]);
/** The AQLs of the master tables, as printed. */
export const AQLS = Object.freeze([
  "0.010", "0.015", "0.025", "0.040", "0.065", "0.10", "0.15", "0.25", "0.40", "0.65",
  "1.0", "1.5", "2.5", "4.0", "6.5", "10", "15", "25", "40", "65",
  "100", "150", "250", "400", "650", "1000",
]);

// Table 1 - Sample size code letters. Each row: the largest lot size of the range (null: and
// over), then the letters for S-1, S-2, S-3, S-4, I, II, III.
const TABLE_1 = [
  [8n, "A A A A A A B"],
  [15n, "A A A A A B C"],
  [25n, "A A B B B C D"],
  [50n, "A B B C C D E"],
  [90n, "B B C C C E F"],
  [150n, "B B C D D F G"],
  [280n, "B C D E E G H"],
  [500n, "B C D E F H J"],
  [1200n, "C C E F G J K"],
  [3200n, "C D E G H K L"],
  [10000n, "C D F G J L M"],
  [35000n, "C D F H K M N"],
  [150000n, "D E G J L N P"],
  [500000n, "D E G J M P Q"],
  [null, "D E H K N Q R"],
];

// The master tables, as printed in sampling.py: for each code letter its sample size n, then
// per AQL either "Ac/Re", an arrow ("↓": use the first plan below it; "↑": the first plan
// above it), or "-" (no plan). Each table is printed in two halves.

// Table 2-A (ISO 2859-1:1999) = Table II-A (ANSI/ASQ Z1.4-2003): normal inspection.
const NORMAL_TEXT = `
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
`;

// Table 2-B (ISO 2859-1:1999): tightened inspection. Z1.4 Table II-B differs in one cell, A/10.
const TIGHTENED_TEXT = `
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
`;

// Table 2-C (ISO 2859-1:1999): reduced inspection, with Re = Ac + 1 throughout.
const REDUCED_ISO_TEXT = `
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
`;

// Table II-C (ANSI/ASQ Z1.4-2003): reduced inspection, with gaps between Ac and Re.
const REDUCED_Z14_TEXT = `
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
`;

const ARROWS = new Set(["↓", "↑"]);

function parseCell(printed, where) {
  if (ARROWS.has(printed)) return printed;
  if (printed === "-") return null;
  const match = /^([0-9]+)\/([0-9]+)$/.exec(printed);
  if (match === null || BigInt(match[2]) <= BigInt(match[1])) {
    throw new ValueError(
      `${where}: expected Ac/Re with Re > Ac, an arrow or '-', got ${pyRepr(printed)}`,
    );
  }
  return [BigInt(match[1]), BigInt(match[2])];
}

/** Read a master table as printed; refuse a row that misses or repeats an AQL. */
function parseTable(name, text) {
  const sizes = new Map();
  const cells = new Map();
  let header = [];
  for (const line of text.split("\n")) {
    const fields = line.split(/\s+/).filter((f) => f !== "");
    if (fields.length === 0) continue;
    if (fields[0] === "code") {
      header = fields.slice(2);
      continue;
    }
    const [letter, size, printed] = [fields[0], BigInt(fields[1]), fields.slice(2)];
    if (!sizes.has(letter)) sizes.set(letter, size);
    if (printed.length !== header.length || sizes.get(letter) !== size) {
      throw new ValueError(`${name} row ${letter}: expected ${header.length} cells and one n`);
    }
    if (!cells.has(letter)) cells.set(letter, new Map());
    const row = cells.get(letter);
    header.forEach((aql, i) => {
      if (row.has(aql)) throw new ValueError(`${name} row ${letter}: AQL ${aql} given twice`);
      row.set(aql, parseCell(printed[i], `${name} row ${letter} AQL ${aql}`));
    });
  }
  const table = new Map();
  for (const [letter, row] of cells) {
    if (row.size !== AQLS.length || !AQLS.every((aql) => row.has(aql))) {
      throw new ValueError(`${name} row ${letter}: expected the ${AQLS.length} AQLs`);
    }
    table.set(letter, { sample_size: sizes.get(letter), cells: AQLS.map((aql) => row.get(aql)) });
  }
  return table;
}

function patched(table, letter, aql, cell) {
  const out = new Map(table);
  const row = table.get(letter);
  const cells = [...row.cells];
  cells[AQLS.indexOf(aql)] = cell;
  out.set(letter, { sample_size: row.sample_size, cells });
  return out;
}

const NORMAL = parseTable("Table 2-A", NORMAL_TEXT);
const TIGHTENED_ISO = parseTable("Table 2-B", TIGHTENED_TEXT);
const MASTER = {
  "ISO 2859-1:1999": {
    normal: NORMAL,
    tightened: TIGHTENED_ISO,
    reduced: parseTable("Table 2-C", REDUCED_ISO_TEXT),
  },
  "ANSI/ASQ Z1.4-2003": {
    normal: NORMAL,
    // Z1.4 Table II-B prints an arrow down at A/10 (to D: n = 8, Ac 1, Re 2) where ISO
    // Table 2-B has the plan n = 2, Ac 0, Re 1.
    tightened: patched(TIGHTENED_ISO, "A", "10", "↓"),
    reduced: parseTable("Table II-C", REDUCED_Z14_TEXT),
  },
};

/**
 * A single sampling plan for one lot (sampling.py's Plan). ``table1_letter`` is the code
 * letter Table 1 gives; ``code_letter`` the letter of the row the arrows led to. When that
 * sample size is not smaller than the lot, ``full_inspection`` is true and ``sample_size`` is
 * the lot size. Integer fields are BigInt.
 */
export class Plan {
  constructor({
    edition,
    severity,
    lot_size,
    level,
    aql,
    table1_letter,
    code_letter,
    sample_size,
    accept,
    reject,
    full_inspection,
  }) {
    Object.assign(this, {
      edition,
      severity,
      lot_size,
      level,
      aql,
      table1_letter,
      code_letter,
      sample_size,
      accept,
      reject,
      full_inspection,
    });
    Object.freeze(this);
  }

  /** The dataclass's ``==``. */
  equals(other) {
    return other instanceof Plan && PLAN_FIELDS.every((f) => this[f] === other[f]);
  }

  /** The dataclass's repr (what ``str(plan)`` prints). */
  pyRepr() {
    return `Plan(${PLAN_FIELDS.map((f) => `${f}=${pyRepr(this[f])}`).join(", ")})`;
  }

  toString() {
    return this.pyRepr();
  }
}

const PLAN_FIELDS = [
  "edition",
  "severity",
  "lot_size",
  "level",
  "aql",
  "table1_letter",
  "code_letter",
  "sample_size",
  "accept",
  "reject",
  "full_inspection",
];

function checkedEdition(edition) {
  for (const known of EDITIONS) if (edition === known) return known;
  throw new ValueError(`edition: expected one of ${EDITIONS.join(", ")}, got ${pyRepr(edition)}`);
}

function checkedSeverity(severity) {
  for (const known of SEVERITIES) if (severity === known) return known;
  throw new ValueError(
    `severity: expected one of ${SEVERITIES.join(", ")}, got ${pyRepr(severity)}`,
  );
}

function count(value, what) {
  if (typeof value !== "bigint" || value < 0n) {
    throw new ValueError(`${what}: expected a non-negative integer, got ${pyRepr(value)}`);
  }
  return value;
}

// Decimal values as the tables' lookup keys: "0.65", "0.650" and "6.5e-1" share one.
function decimalKey(text) {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
  if (m === null || (m[2] + (m[3] ?? "")) === "") return null;
  let digits = (m[2] + (m[3] ?? "")).replace(/^0+/, "");
  let exponent = BigInt(m[4] ?? "0") - BigInt((m[3] ?? "").length);
  if (digits === "") return "0";
  const trailing = digits.length - digits.replace(/0+$/, "").length;
  digits = digits.slice(0, digits.length - trailing);
  exponent += BigInt(trailing);
  return `${m[1] === "-" ? "-" : ""}${digits}e${exponent}`;
}

const AQL_BY_VALUE = new Map(AQLS.map((label) => [decimalKey(label), label]));
const UNICODE_DECIMAL = /^\p{Nd}+(\.\p{Nd}+)?$/u;

function floatOf(aql) {
  if (typeof aql === "number") return aql;
  const f = Number(aql);
  if (!Number.isFinite(f)) {
    throw new OverflowError("int too large to convert to float");
  }
  return f;
}

/** The AQL as the tables print it: 0.65, "0.65" and "0.650" give "0.65". */
export function aqlLabel(aql) {
  let value = null;
  if (typeof aql === "string" && UNICODE_DECIMAL.test(aql)) {
    value = decimalKey(asciiDigits(aql));
  } else if (typeof aql === "bigint" || typeof aql === "number") {
    const f = floatOf(aql);
    value = Number.isFinite(f) ? decimalKey(String(f)) : null; // the shortest decimal
  }
  const label = value !== null ? AQL_BY_VALUE.get(value) : undefined;
  if (label === undefined) {
    throw new ValueError(`AQL: expected one of ${AQLS.join(", ")}, got ${pyRepr(aql)}`);
  }
  return label;
}

/** The sample size code letter of Table 1 for a lot size and inspection level. */
export function codeLetter(lotSize, level) {
  if (typeof lotSize !== "bigint" || lotSize < 2n) {
    throw new ValueError(`lot size: expected an integer of at least 2, got ${pyRepr(lotSize)}`);
  }
  if (!LEVELS.includes(level)) {
    throw new ValueError(
      `inspection level: expected one of ${LEVELS.join(", ")}, got ${pyRepr(level)}`,
    );
  }
  for (const [largest, letters] of TABLE_1) {
    if (largest === null || lotSize <= largest) return letters.split(" ")[LEVELS.indexOf(level)];
  }
  throw new Error("Table 1 ends with an open range");
}

/** Follow the arrows from (letter, AQL): [the letter reached, its n, Ac, Re]. */
function resolve(table, letter, aql) {
  const letters = [...table.keys()];
  let row = letters.indexOf(letter);
  const column = AQLS.indexOf(aql);
  for (;;) {
    const cell = table.get(letters[row]).cells[column];
    if (cell === "↓") row += 1;
    else if (cell === "↑") row -= 1;
    else if (cell === null) throw new Error(`no plan at ${letters[row]}/${aql}`);
    else return [letters[row], table.get(letters[row]).sample_size, cell[0], cell[1]];
  }
}

/** The single sampling plan for a lot: Table 1, then the master table of ``severity``. */
export function plan(lotSize, level, aql, severity, { edition = "ISO 2859-1:1999" } = {}) {
  const letter = codeLetter(lotSize, level);
  const label = aqlLabel(aql);
  const checkedEd = checkedEdition(edition);
  const checkedSev = checkedSeverity(severity);
  const [final, size, accept, reject] = resolve(MASTER[checkedEd][checkedSev], letter, label);
  return new Plan({
    edition: checkedEd,
    severity: checkedSev,
    lot_size: lotSize,
    level,
    aql: label,
    table1_letter: letter,
    code_letter: final,
    sample_size: size < lotSize ? size : lotSize,
    accept,
    reject,
    full_inspection: size >= lotSize,
  });
}

/**
 * Judge a lot by the number of nonconforming items (or nonconformities) in its sample:
 * "accept" at Ac or fewer, "reject" at Re or more, "accept_reinstate_normal" in between.
 */
export function verdict(p, nonconforming) {
  const found = count(nonconforming, "nonconforming count");
  if (found <= p.accept) return "accept";
  if (found >= p.reject) return "reject";
  return "accept_reinstate_normal";
}

/** Whether the lot would have been accepted had the AQL been one step tighter (9.3.3.2). */
function acceptedOneStepTighter(p, nonconforming) {
  const tighter = AQLS[AQLS.indexOf(p.aql) - 1];
  const cell = MASTER[p.edition].normal.get(p.code_letter).cells[AQLS.indexOf(tighter)];
  if (!Array.isArray(cell)) throw new Error(`no plan at ${p.code_letter}/${tighter}`);
  return nonconforming <= cell[0];
}

/**
 * One lot's original inspection (sampling.py's Lot): ``plan`` must be the plan the tables
 * give for its lot size, level, AQL, severity and edition.
 */
export class Lot {
  constructor(lotPlan, nonconforming, productionSteady = true, reducedApproved = true) {
    this.plan = lotPlan;
    this.nonconforming = nonconforming;
    this.production_steady = productionSteady;
    this.reduced_approved = reducedApproved;
    count(this.nonconforming, "nonconforming count");
    const given = this.plan;
    const expected = plan(given.lot_size, given.level, given.aql, given.severity, {
      edition: given.edition,
    });
    if (!expected.equals(given)) {
      throw new ValueError(
        `lot: expected the plan the tables give, ${expected.pyRepr()}, got ` +
          `${given instanceof Plan ? given.pyRepr() : pyRepr(given)}`,
      );
    }
    Object.freeze(this);
  }
}

/**
 * The switching rules of ISO 2859-1:1999 clause 9 (and ANSI/ASQ Z1.4-2003) as a pure state:
 * replay lots through it (sampling.py's Switching, whose docstring gives the rules).
 */
export class Switching {
  constructor({
    state = "normal",
    score = 0,
    recent = [],
    run = 0,
    accepted_in_a_row = 0,
    not_accepted = 0,
  } = {}) {
    this.state = state;
    /** The switching score (normal inspection only). */
    this.score = score;
    /** Normal inspection: whether each of the last (up to 5) lots was accepted, oldest first. */
    this.recent = Object.freeze([...recent]);
    /** Normal inspection: lots accepted in a row in this period (ANSI/ASQ Z1.4-2003 8.3.3). */
    this.run = run;
    /** Tightened inspection: lots accepted in a row, and lots not accepted in this period. */
    this.accepted_in_a_row = accepted_in_a_row;
    this.not_accepted = not_accepted;
    Object.freeze(this);
  }

  /** The state after the lots, in order, from ``start`` (normal inspection by default). */
  static replay(lots, start = null) {
    let state = start !== null ? start : new Switching();
    for (const lot of lots) state = state.after(lot);
    return state;
  }

  /** The state after one more lot, inspected under the current severity. */
  after(lot) {
    if (this.state === "discontinued") {
      throw new ValueError(
        "switching: expected no lot while inspection is discontinued (9.4), got one; " +
          "call resumed() once the supplier's corrective action is accepted",
      );
    }
    if (lot.plan.severity !== this.state) {
      throw new ValueError(
        `lot: expected a plan for ${this.state} inspection, got ${lot.plan.severity}`,
      );
    }
    const outcome = verdict(lot.plan, lot.nonconforming);
    const accepted = outcome !== "reject";
    if (this.state === "normal") {
      const recent = [...this.recent, accepted].slice(-5);
      if (recent.filter((a) => !a).length >= 2) return new Switching({ state: "tightened" });
      let gain;
      if (lot.plan.accept >= 2n) {
        gain = acceptedOneStepTighter(lot.plan, lot.nonconforming) ? 3 : 0;
      } else {
        gain = accepted ? 2 : 0;
      }
      const score = gain ? this.score + gain : 0;
      const run = accepted ? this.run + 1 : 0;
      const earned = lot.plan.edition === "ANSI/ASQ Z1.4-2003" ? run >= 10 : score >= 30;
      if (earned && lot.production_steady && lot.reduced_approved) {
        return new Switching({ state: "reduced" });
      }
      return new Switching({ state: "normal", score, recent, run });
    }
    if (this.state === "tightened") {
      if (accepted) {
        if (this.accepted_in_a_row + 1 >= 5) return new Switching({ state: "normal" });
        return this.replaced({ accepted_in_a_row: this.accepted_in_a_row + 1 });
      }
      if (this.not_accepted + 1 >= 5) return new Switching({ state: "discontinued" });
      return this.replaced({ accepted_in_a_row: 0, not_accepted: this.not_accepted + 1 });
    }
    // reduced
    if (outcome !== "accept" || !(lot.production_steady && lot.reduced_approved)) {
      return new Switching({ state: "normal" });
    }
    return this;
  }

  /** Tightened inspection again after a discontinuation (9.4). */
  resumed() {
    if (this.state !== "discontinued") {
      throw new ValueError(`switching: expected a discontinued inspection, got ${this.state}`);
    }
    return new Switching({ state: "tightened" });
  }

  replaced(changes) {
    return new Switching({ ...this.fields(), ...changes });
  }

  fields() {
    return {
      state: this.state,
      score: this.score,
      recent: [...this.recent],
      run: this.run,
      accepted_in_a_row: this.accepted_in_a_row,
      not_accepted: this.not_accepted,
    };
  }
}

/**
 * Where the arrows lead from (letter, AQL) in the master table of ``severity`` (sampling.py's
 * private ``_resolve``, exported for the tests that compare every cell):
 * [the letter reached, its n, Ac, Re].
 */
export function resolveCell(edition, severity, letter, aql) {
  return resolve(MASTER[checkedEdition(edition)][checkedSeverity(severity)], letter, aql);
}
