"""Generate src/lstmkit/data/bundled/numbers_en_de.tsv.gz: English -> German sentence pairs.

The numbers are written out by num2words (pip install num2words; English "twenty-three",
German "dreiundzwanzig": the units come first and the words join into one); the sentences
around them are the templates below, German written by hand, some with two translations
(two references for one source sentence) and some with the verb moved to the end. Run once;
the output is shipped, so lstmkit translate needs neither num2words nor a network:

    python scripts/make_translate_data.py            # writes the file (seeded, the same each time)
"""

from __future__ import annotations

import gzip
import random
import sys
from pathlib import Path

# (English template, [German templates]); {n} is the number in words
TEMPLATES = [
    ("{n}", ["{n}"]),
    ("I am {n} years old.", ["Ich bin {n} Jahre alt."]),
    ("The book has {n} pages.", ["Das Buch hat {n} Seiten."]),
    ("We need {n} chairs.", ["Wir brauchen {n} Stühle."]),
    ("She bought {n} apples.", ["Sie hat {n} Äpfel gekauft.", "Sie kaufte {n} Äpfel."]),
    ("There are {n} students in the room.", ["Im Raum sind {n} Studenten.", "Es sind {n} Studenten im Raum."]),
    ("He waited for {n} minutes.", ["Er hat {n} Minuten gewartet.", "Er wartete {n} Minuten."]),
    ("The train leaves in {n} minutes.", ["Der Zug fährt in {n} Minuten ab."]),
    ("I have read {n} books this year.", ["Ich habe dieses Jahr {n} Bücher gelesen."]),
    ("The house is {n} years old.", ["Das Haus ist {n} Jahre alt."]),
    ("Tom has {n} sheep.", ["Tom hat {n} Schafe."]),
    ("We walked {n} kilometres yesterday.", ["Wir sind gestern {n} Kilometer gelaufen."]),
]
ATTRIBUTION = "num2words+lstmkit"  # third column: where the pair comes from (ignored by the reader)


def main(out: Path, per_template: int = 350, seed: int = 0) -> None:
    from num2words import num2words

    rng = random.Random(seed)
    lines = []
    for english, germans in TEMPLATES:
        # every number 2..20 and every ten up to 90 (the ones users try first), then a seeded
        # draw from the rest of 2..999 ("eins" is left out: in a sentence it is "ein")
        common = list(range(2, 21)) + list(range(30, 100, 10))
        numbers = common + rng.sample([n for n in range(21, 1000) if n not in common], per_template - len(common))
        for n in sorted(numbers):
            en, de = num2words(n, lang="en"), num2words(n, lang="de")
            source = english.format(n=en)
            for german in germans:
                target = german.format(n=de)
                lines.append(f"{source}\t{target}\t{ATTRIBUTION}")
    rng.shuffle(lines)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    out.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))  # mtime 0: the same bytes each run
    print(f"{len(lines)} pairs -> {out}")


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else root / "src/lstmkit/data/bundled/numbers_en_de.tsv.gz")
