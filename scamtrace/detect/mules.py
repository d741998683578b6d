"""Mule accounts: where victims' money lands, and where it goes next.

A first-layer mule receives money from people shortly after they were scam-called; most of its
payers are such victims, and it passes the money on within days. A shop or a landlord also
receives from many people, some of whom happen to be victims, but victims are a small share of
its payers and the money stays. From each mule the money is followed through later layers
(accounts fed mostly by mules) to the cash-out: ATM withdrawals and transfers abroad.

A bank alone, with no calls to say who was scammed, still sees what the money does. A mule takes
money from people who never paid it before, in sums far larger than those people usually pay
anyone (their savings, not a purchase), and sends it on to someone else within hours, from an
account often opened for the purpose. A reseller or a group-buy organiser also passes
first-time payers' money on within hours, but their customers pay what they usually pay; a shop
sweeping its takings sends them to its holder's own account, which is not passing them on.
"""

from __future__ import annotations

from scamtrace.core.contract import FLAG_THRESHOLD
from scamtrace.core.sql import run
from scamtrace.detect.detector import Detector, TableSpec
from scamtrace.detect.labels import held, held_numbers
from scamtrace.detect.settings import (
    MULE_BASE,
    MULE_CYCLE,
    MULE_FED_SHARE,
    MULE_FRESH,
    MULE_LAYER_DECAY,
    MULE_MANY_NEW_PAYERS,
    MULE_NEW_PAYERS_PASSED_ON,
    MULE_PASSES_ON,
    MULE_PERSONAL,
    MULE_SAVINGS,
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
MONEY_MOVES = TableSpec.of("money_moves", temporary=True, line="BIGINT", payer="VARCHAR",
                           payee="VARCHAR", time="BIGINT", amount="DOUBLE",
                           currency="VARCHAR")  # fmt: skip
MONEY_CYCLE = TableSpec.of("money_cycle", temporary=True, account="VARCHAR")
MONEY_CREDITS = TableSpec.of("money_credits", temporary=True, line="BIGINT", account="VARCHAR",
                             payer="VARCHAR", time="BIGINT", amount="DOUBLE",
                             currency="VARCHAR")  # fmt: skip
MONEY_MULE_CANDIDATES = TableSpec.of(
    "money_mule_candidates", account="VARCHAR", new_payers="BIGINT", savings_payers="BIGINT",
    known_payers="BIGINT",
    taken="DOUBLE", passed_on="DOUBLE", first_in="BIGINT", currency="VARCHAR",
    opened_on="DATE", kind="VARCHAR", fresh="BOOLEAN", passes_on="BOOLEAN", on_cycle="BOOLEAN",
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
          AND a.holder_phone NOT IN {held_numbers('victim_paid')}
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
    _mule_verdicts(case, s)
    _mules_from_money_alone(case, s)
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
                  AND t.payee_account NOT IN {held('mule_account')}
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
               arg_max(CASE WHEN p.days_after IS NULL
                       THEN printf('paid %s %s into mule account %s, which passed it on within '
                                   'hours', format('{{:,.2f}}', p.amount), p.currency, p.payee)
                       ELSE printf('paid %s %s into mule account %s %.1f days after the first '
                                   'scam call', format('{{:,.2f}}', p.amount), p.currency,
                                   p.payee, p.days_after) END,
                       (p.amount, p.payee, p.days_after, p.currency))
        FROM victim_payments p JOIN mules m ON m.account = p.payee AND m.layer = 1
        WHERE p.phone IS NOT NULL GROUP BY p.phone
    """)  # fmt: skip


def _mule_verdicts(case: Case, s: DetectSettings) -> None:
    """Analysts' verdicts on first-layer mules (labels.py): a rejected account is none (and
    no later layer takes it back); a confirmed one is a first-layer mule at 1, whose payers
    who were scam-called in the days before paying are victims who paid (their payments join
    ``victim_payments``), and whose onward transfers the later layers follow."""
    db = case.db
    window = int(s.payment_window_days * DAY)
    run(db, f"DELETE FROM mules WHERE account IN {held('mule_account')}")
    run(db, """
        UPDATE mules SET score = 1.0, layer = 1 FROM labels l
        WHERE l.kind = 'mule_account' AND l.state = 'confirmed' AND l.key = mules.account
    """)
    run(db, """
        INSERT INTO mules
        SELECT key, 1.0, 1, printf('received %d transfer(s) in the case', records) FROM labels
        WHERE kind = 'mule_account' AND state = 'confirmed'
          AND key NOT IN (SELECT account FROM mules)
    """)  # fmt: skip
    run(db, f"""
        INSERT INTO victim_payments
        SELECT t._line, t.tx_id, t.time, t.payer_account, t.payee_account, t.amount, t.currency,
               a.holder_phone, max(c.score), (t.time - min(c.t)) / 86400.0
        FROM transfers t JOIN accounts a ON a.account_id = t.payer_account
        JOIN scam_calls c ON c.callee = a.holder_phone AND c.t <= t.time
         AND c.t >= t.time - {window}
        WHERE t.payee_account IN (SELECT key FROM labels WHERE kind = 'mule_account'
                                                          AND state = 'confirmed')
          AND a.holder_phone NOT IN {held_numbers('victim_paid')}
          AND t._line NOT IN (SELECT line FROM victim_payments)
        GROUP BY t._line, t.tx_id, t.time, t.payer_account, t.payee_account, t.amount,
                 t.currency, a.holder_phone
    """)  # fmt: skip


def _mules_from_money_alone(case: Case, s: DetectSettings) -> None:
    """First-layer mules by what the money does, with or without calls: first-time payers'
    money, out of all proportion to what they usually pay, passed on to someone else within
    hours. Accounts already found from scam calls keep that finding; each payment into a mule
    found this way joins ``victim_payments`` with no scam call behind it."""
    db = case.db
    hold = int(s.pass_through_hours * 3600)
    cycle_s = int(s.cycle_window_days * DAY)
    # Transfers that leave their holder (not a sweep to the holder's own account), once.
    run(db, """
        CREATE OR REPLACE TEMP TABLE money_moves AS
        SELECT t._line AS line, t.payer_account AS payer, t.payee_account AS payee, t.time,
               t.amount, t.currency
        FROM transfers t
        LEFT JOIN accounts a ON a.account_id = t.payer_account
        LEFT JOIN accounts b ON b.account_id = t.payee_account
        WHERE t.payer_account IS DISTINCT FROM t.payee_account
          AND NOT coalesce(a.holder_id = b.holder_id OR a.holder_phone = b.holder_phone, false)
    """)  # fmt: skip
    # Money back where it started through two other accounts, in time order: the circles of
    # distinct payer-payee pairs first (few), then their times.
    run(db, f"""
        CREATE OR REPLACE TEMP TABLE money_cycle AS
        WITH pair AS (
            SELECT DISTINCT payer AS a, payee AS b FROM money_moves
            WHERE payer <> '' AND payee <> ''
        ), circle AS (
            SELECT p1.a, p1.b, p2.b AS c FROM pair p1
            JOIN pair p2 ON p2.a = p1.b AND p2.b <> p1.a
            JOIN pair p3 ON p3.a = p2.b AND p3.b = p1.a
        ), leg AS (
            SELECT m.payer AS a, m.payee AS b, m.time AS t FROM money_moves m
            SEMI JOIN (SELECT a, b FROM circle) c ON c.a = m.payer AND c.b = m.payee
        )
        SELECT DISTINCT unnest([c.a, c.b, c.c]) AS account FROM circle c
        JOIN leg e1 ON e1.a = c.a AND e1.b = c.b
        JOIN leg e2 ON e2.a = c.b AND e2.b = c.c AND e2.t BETWEEN e1.t AND e1.t + {cycle_s}
        JOIN leg e3 ON e3.a = c.c AND e3.b = c.a AND e3.t BETWEEN e2.t AND e1.t + {cycle_s}
    """)  # fmt: skip
    run(db, f"""
        CREATE OR REPLACE TEMP TABLE money_credits AS
        WITH pair AS (
            SELECT payee AS account, payer, count(*) AS n FROM money_moves
            WHERE payee <> '' AND payer <> '' GROUP BY ALL
        ), candidate AS (
            -- two payers new to it, or one into an account opened weeks before, or a circle
            SELECT account FROM pair WHERE n <= {s.new_payer_max_payments}
            GROUP BY account HAVING count(*) >= 2
            UNION
            SELECT m.payee FROM money_moves m JOIN accounts a ON a.account_id = m.payee
            WHERE a.opened_on >= CAST(to_timestamp(m.time) AS DATE) - {s.new_account_days}
            UNION SELECT account FROM money_cycle
        ), new_in AS (
            SELECT m.line, m.payee AS account, m.payer, m.time, m.amount, m.currency
            FROM money_moves m
            JOIN pair p ON p.account = m.payee AND p.payer = m.payer
                       AND p.n <= {s.new_payer_max_payments}
            SEMI JOIN candidate k ON k.account = m.payee
        ), could_pass AS (
            -- an account that sent on less than that share of it all cannot have passed it on
            SELECT i.account FROM (SELECT account, sum(amount) AS taken FROM new_in GROUP BY 1) i
            JOIN (SELECT payer, sum(amount) AS sent FROM money_moves GROUP BY 1) o
              ON o.payer = i.account
            WHERE o.sent >= {s.pass_through_share} * i.taken
            UNION SELECT account FROM money_cycle
        )
        SELECT * FROM new_in SEMI JOIN could_pass USING (account)
    """)  # fmt: skip
    run(db, f"""
        CREATE OR REPLACE TABLE money_mule_candidates AS
        WITH usual AS (
            -- what each payer usually sends anyone: the median of its payments but the largest
            SELECT payer, median(amount) AS usual FROM (
                SELECT t.payer_account AS payer, t.amount,
                       row_number() OVER (PARTITION BY t.payer_account
                                          ORDER BY t.amount DESC) AS rank
                FROM transfers t
                WHERE t.payer_account IN (SELECT payer FROM money_credits)
            ) WHERE rank > 1 GROUP BY payer
        ), leaving AS (
            SELECT m.payer AS account, m.time,
                   sum(m.amount) OVER (PARTITION BY m.payer ORDER BY m.time, m.line
                                       ROWS UNBOUNDED PRECEDING) AS gone
            FROM money_moves m
            WHERE m.payer IN (SELECT account FROM money_credits UNION
                              SELECT account FROM money_cycle)
        ), before AS (
            -- what left strictly before it came in (times logged by the day tie: then after)
            SELECT n.line, coalesce(l.gone, 0) AS gone_before FROM money_credits n
            ASOF LEFT JOIN leaving l ON l.account = n.account AND n.time > l.time
        ), after AS (
            SELECT n.line, coalesce(l.gone, 0) AS gone_after FROM money_credits n
            ASOF LEFT JOIN leaving l ON l.account = n.account AND n.time + {hold} >= l.time
        ), judged AS (
            SELECT n.*, u.usual, least(a.gone_after - b.gone_before, n.amount) AS passed_on,
                   n.amount >= {s.savings_multiple} * u.usual AS savings
            FROM money_credits n JOIN before b USING (line) JOIN after a USING (line)
            LEFT JOIN usual u ON u.payer = n.payer
        ), per_account AS (
            SELECT account, count(DISTINCT payer) AS new_payers,
                   count(DISTINCT payer) FILTER (WHERE savings) AS savings_payers,
                   count(DISTINCT payer) FILTER (WHERE usual IS NOT NULL) AS known_payers,
                   sum(amount) AS taken, sum(passed_on) AS passed_on, min(time) AS first_in,
                   max(currency) AS currency
            FROM judged GROUP BY account
        ), candidate AS (
            SELECT account FROM per_account UNION SELECT account FROM money_cycle
        )
        SELECT k.account, coalesce(p.new_payers, 0) AS new_payers,
               coalesce(p.savings_payers, 0) AS savings_payers,
               coalesce(p.known_payers, 0) AS known_payers, coalesce(p.taken, 0) AS taken,
               coalesce(p.passed_on, 0) AS passed_on, p.first_in, p.currency, a.opened_on, a.kind,
               a.opened_on >= CAST(to_timestamp(p.first_in) AS DATE) - {s.fresh_account_days}
                   AS fresh,
               coalesce(p.passed_on >= {s.pass_through_share} * p.taken
                        AND (p.new_payers >= 2 OR a.opened_on >= CAST(to_timestamp(p.first_in)
                                                  AS DATE) - {s.new_account_days}), false)
                   AS passes_on,
               k.account IN (SELECT account FROM money_cycle) AS on_cycle
        FROM candidate k LEFT JOIN per_account p USING (account)
        LEFT JOIN accounts a ON a.account_id = k.account
        WHERE on_cycle OR passes_on
    """)  # fmt: skip
    savings = "(savings_payers > 0.5 * known_payers)"
    added = run(db, f"""
        INSERT INTO mules
        SELECT * FROM (
            SELECT account,
                   least(1.0, {MULE_NEW_PAYERS_PASSED_ON} * passes_on::INT
                         + {MULE_CYCLE} * on_cycle::INT
                         + {MULE_MANY_NEW_PAYERS} * (new_payers >= 3)::INT
                         + {MULE_SAVINGS} * {savings}::INT
                         + {MULE_FRESH} * coalesce(fresh, false)::INT
                         + {MULE_PERSONAL} * (coalesce(kind, '') = 'personal')::INT) AS score,
                   1 AS layer,
                   concat_ws('; ',
                       CASE WHEN passes_on THEN printf(
                           'passed on %d%% of the %s %s that %d first-time payer(s) sent it, '
                           'each within %d hours', CAST(round(100 * passed_on / taken) AS INTEGER),
                           format('{{:,.2f}}', taken), currency, new_payers,
                           {round(s.pass_through_hours)}) END,
                       CASE WHEN NOT passes_on AND new_payers >= 3 THEN printf(
                           'received from %d first-time payers', new_payers) END,
                       CASE WHEN {savings} THEN printf(
                           '%d of them paid far more than they usually pay', savings_payers) END,
                       CASE WHEN on_cycle THEN printf(
                           'money it sent came back to it through two other accounts within %d '
                           'days', {round(s.cycle_window_days)}) END)
                   || CASE WHEN fresh THEN printf(' (account opened %s)', opened_on) ELSE '' END
                   AS reason
            FROM money_mule_candidates
            WHERE account NOT IN (SELECT account FROM mules)
              AND account NOT IN {held('mule_account')}
        ) WHERE score >= {FLAG_THRESHOLD}
        RETURNING account
    """)  # fmt: skip
    if not added:
        return
    # what first-time payers paid into an account that passed it on: the victims' payments
    run(db, """
        INSERT INTO victim_payments
        SELECT c.line, t.tx_id, c.time, c.payer, c.account, c.amount, c.currency,
               a.holder_phone, NULL, NULL
        FROM money_credits c JOIN transfers t ON t._line = c.line
        JOIN money_mule_candidates m ON m.account = c.account AND m.passes_on
        JOIN mules u ON u.account = m.account AND u.layer = 1
        LEFT JOIN accounts a ON a.account_id = c.payer
        WHERE c.line NOT IN (SELECT line FROM victim_payments)
    """)  # fmt: skip


DETECTOR = Detector(
    name="mules", step="money", progress=0.6,
    needs=("transfers", "accounts", "victims", "scam_calls", "labels"),
    makes=(MULES, FRAUD_TRANSFERS, PAID, VICTIM_PAYMENTS, MULE_CANDIDATES,
           MONEY_MULE_CANDIDATES, MONEY_MOVES, MONEY_CYCLE, MONEY_CREDITS), run=follow_money,
)  # fmt: skip
