"""Mule accounts: where victims' money lands, and where it goes next.

A first-layer mule receives money from people shortly after they were scam-called; most of its
payers are such victims, and it passes the money on within days. A shop or a landlord also
receives from many people, some of whom happen to be victims, but victims are a small share of
its payers and the money stays. From each mule the money is followed through later layers
(accounts fed mostly by mules) to the cash-out: ATM withdrawals and transfers abroad.
"""

from __future__ import annotations

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.settings import (
    MULE_BASE,
    MULE_FED_SHARE,
    MULE_FRESH,
    MULE_LAYER_DECAY,
    MULE_PASSES_ON,
    MULE_PERSONAL,
    MULE_THREE_VICTIMS,
    MULE_TWO_VICTIMS,
    DetectSettings,
)
from scamtrace.enrich.case import Case

DAY = 86400

MULES = TableSpec.of("mules", account="VARCHAR", score="DOUBLE", layer="INTEGER",
                     reason="VARCHAR")  # fmt: skip
FRAUD_TRANSFERS = TableSpec.of("fraud_transfers", line="BIGINT", tx_id="VARCHAR",
                               score="DOUBLE", kind="VARCHAR", mule="VARCHAR")  # fmt: skip
PAID = TableSpec.of("paid", phone="BIGINT", score="DOUBLE", reason="VARCHAR")
VICTIM_PAYMENTS = TableSpec.of(
    "victim_payments", line="BIGINT", tx_id="VARCHAR", time="BIGINT", payer="VARCHAR",
    payee="VARCHAR", amount="NUMERIC", currency="VARCHAR", phone="BIGINT",
    victim_score="NUMERIC", days_after="DOUBLE",
)  # fmt: skip
MULE_CANDIDATES = TableSpec.of(
    "mule_candidates", account="VARCHAR", victim_payers="BIGINT", taken="NUMERIC",
    first_in="BIGINT", currency="VARCHAR", payers="BIGINT", inflow="NUMERIC",
    out_fast="NUMERIC", opened_on="DATE", kind="VARCHAR", passes_on="BOOLEAN", fresh="BOOLEAN",
)  # fmt: skip


def follow_money(case: Case, s: DetectSettings) -> None:
    """Create ``mules(account, score, layer, reason)`` and ``fraud_transfers(line, tx_id,
    score, kind, mule)``; victims' payments feed ``paid(phone, score, reason)``."""
    db = case.db
    run(db, "CREATE OR REPLACE TABLE mules (account VARCHAR, score DOUBLE, layer INTEGER, "
            "reason VARCHAR)")  # fmt: skip
    run(db, "CREATE OR REPLACE TABLE fraud_transfers (line BIGINT, tx_id VARCHAR, score DOUBLE, "
            "kind VARCHAR, mule VARCHAR)")  # fmt: skip
    run(db, "CREATE OR REPLACE TABLE paid (phone BIGINT, score DOUBLE, reason VARCHAR)")
    window = int(s.payment_window_days * DAY)
    hold = int(s.pass_through_hours * 3600)
    run(db, f"""
        CREATE OR REPLACE TABLE victim_payments AS
        SELECT t._line AS line, t.tx_id, t.time, t.payer_account AS payer,
               t.payee_account AS payee, t.amount, t.currency, a.holder_phone AS phone,
               v.score AS victim_score, (t.time - v.first_t) / 86400.0 AS days_after
        FROM transfers t
        JOIN accounts a ON a.account_id = t.payer_account
        JOIN victims v ON v.phone = a.holder_phone
        WHERE t.payee_account <> '' AND t.time BETWEEN v.first_t AND v.last_t + {window}
    """)  # fmt: skip
    run(db, f"""
        CREATE OR REPLACE TABLE mule_candidates AS
        WITH victim_in AS (
            SELECT payee AS account, count(DISTINCT payer) AS victim_payers, sum(amount) AS taken,
                   min(time) AS first_in, max(currency) AS currency
            FROM victim_payments GROUP BY payee
        ), payers AS (
            SELECT payee_account AS account, count(DISTINCT payer_account) AS payers,
                   sum(amount) AS inflow
            FROM transfers SEMI JOIN victim_in ON victim_in.account = transfers.payee_account
            GROUP BY payee_account
        ), forwarded AS (
            SELECT i.account, sum(o.amount) AS out_fast
            FROM victim_in i JOIN transfers o ON o.payer_account = i.account
             AND o.time BETWEEN i.first_in AND i.first_in + {hold}
            GROUP BY i.account
        )
        SELECT i.*, p.payers, p.inflow, coalesce(f.out_fast, 0) AS out_fast,
               a.opened_on, a.kind,
               coalesce(f.out_fast, 0) >= {s.pass_through_share} * i.taken AS passes_on,
               a.opened_on >= CAST(to_timestamp(i.first_in) AS DATE) - {s.fresh_account_days}
                   AS fresh
        FROM victim_in i JOIN payers p USING (account)
        LEFT JOIN forwarded f USING (account) LEFT JOIN accounts a ON a.account_id = i.account
        WHERE i.victim_payers >= {s.mule_victim_share} * p.payers
          AND i.taken >= {s.mule_victim_share} * p.inflow
    """)  # fmt: skip
    run(db, f"""
        INSERT INTO mules
        SELECT account,
               least(1.0, {MULE_BASE} + {MULE_TWO_VICTIMS} * (victim_payers >= 2)::INT
                     + {MULE_THREE_VICTIMS} * (victim_payers >= 3)::INT
                     + {MULE_PASSES_ON} * passes_on::INT
                     + {MULE_FRESH} * coalesce(fresh, false)::INT
                     + {MULE_PERSONAL} * (coalesce(kind, '') = 'personal')::INT) AS score,
               1 AS layer,
               concat(printf('received %s %s from %d of its %d payers after their scam calls',
                             format('{{:,.2f}}', taken), currency, victim_payers, payers),
                      CASE WHEN passes_on THEN ', and passed it on within days' ELSE '' END,
                      CASE WHEN fresh THEN printf(' (account opened %s)', opened_on) ELSE '' END)
        FROM mule_candidates
    """)  # fmt: skip
    run(db, f"DELETE FROM mules WHERE score < {FLAG_THRESHOLD}")
    # Layers after the first: accounts fed mostly by mules, until the money leaves.
    for layer in range(2, s.follow_layers + 2):
        added = run(db, f"""
            INSERT INTO mules
            WITH sent AS (
                SELECT t.payee_account AS account, sum(t.amount) AS from_mules,
                       count(DISTINCT t.payer_account) AS mule_payers, max(m.score) AS up,
                       max(t.channel) AS channel, max(t.currency) AS currency
                FROM transfers t JOIN mules m ON m.account = t.payer_account
                WHERE t.payee_account <> '' AND m.layer = {layer - 1}
                  AND t.payee_account NOT IN (SELECT account FROM mules)
                GROUP BY t.payee_account
            ), inflow AS (
                SELECT payee_account AS account, sum(amount) AS inflow FROM transfers
                SEMI JOIN sent ON sent.account = transfers.payee_account GROUP BY payee_account
            )
            SELECT account, up * {MULE_LAYER_DECAY}, {layer},
                   printf('received %s %s from %d mule account(s), %d%% of all it received%s',
                          format('{{:,.2f}}', from_mules), currency, mule_payers,
                          CAST(round(100 * from_mules / inflow) AS INTEGER),
                          CASE WHEN channel = 'international' THEN ', sent abroad' ELSE '' END)
            FROM sent JOIN inflow USING (account)
            WHERE from_mules >= {MULE_FED_SHARE} * inflow
              AND up * {MULE_LAYER_DECAY} >= {FLAG_THRESHOLD}
            RETURNING account
        """)  # fmt: skip
        if not added:
            break
    # A payment into a mule is as sure as a finding, however unsure its payer is as a victim.
    run(db, f"""
        INSERT INTO fraud_transfers
        SELECT p.line, p.tx_id, least(m.score, greatest(p.victim_score, {FLAG_THRESHOLD})),
               'victim_payment', m.account
        FROM victim_payments p JOIN mules m ON m.account = p.payee AND m.layer = 1
    """)  # fmt: skip
    run(db, f"""
        INSERT INTO fraud_transfers
        SELECT t._line, t.tx_id, m.score * {MULE_LAYER_DECAY},
               CASE WHEN t.payee_account = '' OR t.channel IN ('atm', 'international')
                         OR n.layer IS NULL THEN 'cash_out' ELSE 'layering' END, m.account
        FROM transfers t JOIN mules m ON m.account = t.payer_account
        LEFT JOIN mules n ON n.account = t.payee_account
        WHERE n.layer IS NOT NULL OR t.payee_account = '' OR t.channel IN ('atm', 'international')
    """)  # fmt: skip
    run(db, f"""
        INSERT INTO paid
        SELECT p.phone, max(least(m.score, greatest(p.victim_score, {FLAG_THRESHOLD}))),
               arg_max(printf('paid %s %s into mule account %s %.1f days after the first scam call',
                              format('{{:,.2f}}', p.amount), p.currency, p.payee, p.days_after),
                       (p.amount, p.payee, p.days_after, p.currency))
        FROM victim_payments p JOIN mules m ON m.account = p.payee AND m.layer = 1
        WHERE p.phone IS NOT NULL GROUP BY p.phone
    """)  # fmt: skip


DETECTOR = Detector(
    name="mules", step="money", progress=0.6, needs=("transfers", "accounts", "victims"),
    makes=(MULES, FRAUD_TRANSFERS, PAID, VICTIM_PAYMENTS, MULE_CANDIDATES), run=follow_money,
)  # fmt: skip
