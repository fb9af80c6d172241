"""Regenerate the example's sample business data (deterministic): python config/data/make_sample_data.py

Daily rows cover the whole 2026-Q4 cycle; okrsync only reads rows dated up to the run's as_of,
so `okrsync run --as-of DATE` sees the data as it was on that day.
"""

import csv
import random
import sqlite3
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).parent
START, END = date(2026, 10, 1), date(2026, 12, 31)
DAYS = [START + timedelta(days=i) for i in range((END - START).days + 1)]
rng = random.Random(2026)


def frac(day: date) -> float:
    return (day - START).days / (END - START).days


def write(name: str, header: list[str], rows: list[list]) -> None:
    with (HERE / name).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


# MRR grows a little ahead of plan early, then flattens; cost per customer drifts down.
write(
    "billing.csv",
    ["date", "mrr", "cost_per_customer"],
    [
        [
            d.isoformat(),
            round(120_000 + 55_000 * frac(d) ** 0.9 + rng.uniform(-900, 900)),
            f"{4.9 - 0.9 * frac(d) + rng.uniform(-0.08, 0.08):.2f}",
        ]
        for d in DAYS
    ],
)
# Weekly CSAT survey, slow to move.
write(
    "survey.csv",
    ["date", "csat"],
    [[d.isoformat(), f"{75 + 8 * frac(d) + rng.uniform(-0.8, 0.8):.1f}"] for d in DAYS if d.weekday() == 4],
)
# Latency p95 (ms) daily; uptime from a monitoring export that stopped on 2026-11-18.
write("performance.csv", ["date", "p95_ms"], [[d.isoformat(), round(185 + 25 * rng.uniform(-1, 1))] for d in DAYS])
write(
    "monitoring.csv",
    ["date", "uptime_pct"],
    [
        [d.isoformat(), f"{99.93 - (0.06 if d > date(2026, 11, 6) else 0) + rng.uniform(-0.01, 0.01):.3f}%"]
        for d in DAYS
        if d <= date(2026, 11, 18)
    ],
)
write(
    "signups.csv",
    ["date", "count", "channel"],
    [
        [d.isoformat(), round(9 + 14 * frac(d) + rng.uniform(-3, 3)), rng.choice(["web", "web", "partner"])]
        for d in DAYS
    ],
)
write("churn.csv", ["date", "churn_rate"], [["2026-10-01", "1.6"], ["2026-11-01", "1.9"], ["2026-12-01", "2.3"]])

db = HERE / "business.db"
db.unlink(missing_ok=True)
con = sqlite3.connect(db)
con.executescript("""
create table deals (id integer primary key, closed_on text, status text, amount real);
create table bugs (id integer primary key, priority text, opened_on text, closed_on text);
create table users (id integer primary key, signed_up_on text, activated_on text);
create table releases (name text, released_on text);
create table tickets (id integer primary key, opened_on text, closed_on text);
""")
for d in DAYS:
    for _ in range(rng.choice([0, 0, 1, 1, 1])):
        con.execute(
            "insert into deals (closed_on, status, amount) values (?, 'won', ?)",
            (d.isoformat(), rng.randint(4, 40) * 500),
        )
    for _ in range(rng.choice([0, 1, 1, 2, 2])):
        con.execute(
            "insert into deals (closed_on, status, amount) values (?, 'lost', ?)",
            (d.isoformat(), rng.randint(4, 40) * 500),
        )
# 40 P1 bugs open on Oct 1; the team closes them steadily, a few new ones arrive.
for i in range(40):
    closed = START + timedelta(days=int(4 + i * 2.1 + rng.uniform(0, 3)))
    con.execute(
        "insert into bugs (priority, opened_on, closed_on) values ('P1', '2026-09-15', ?)",
        (closed.isoformat() if closed <= END else None,),
    )
for d in DAYS[::5]:
    con.execute(
        "insert into bugs (priority, opened_on, closed_on) values ('P1', ?, ?)",
        (d.isoformat(), (d + timedelta(days=12)).isoformat()),
    )
for d in DAYS:
    for _ in range(6):
        activated = d + timedelta(days=rng.randint(1, 9)) if rng.random() < 0.31 + 0.12 * frac(d) else None
        con.execute(
            "insert into users (signed_up_on, activated_on) values (?, ?)",
            (d.isoformat(), activated.isoformat() if activated else None),
        )
con.execute("insert into releases values ('self-serve beta', '2026-10-20'), ('self-serve GA', '2026-11-12')")
for d in DAYS:
    for _ in range(rng.randint(8, 14)):
        con.execute(
            "insert into tickets (opened_on, closed_on) values (?, ?)",
            (d.isoformat(), (d + timedelta(days=rng.randint(1, 20))).isoformat()),
        )
con.commit()
con.execute("vacuum")
con.close()
