"""Tiny hand-made case folders: every row written out by hand-readable rules, so a test can
say exactly which entity should and should not be found.

The cast: a call center in Spain (two SIP accounts behind one IP, spoofing random Chinese
mobiles, dialling a block of numbers once each, hooking three victims who pay a fresh mule
account that forwards to a second one that withdraws cash), an emigrant family calling home
every day from Spain with their own Chinese number, an airline's support line in Spain
presenting its Chinese toll-free number to many customers, and a shop that many people pay,
two of them victims.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

T0 = dt.datetime(2016, 7, 1, 8, 0, tzinfo=dt.UTC)

CENTER_ACCOUNTS = ("sip10000001", "sip10000002")
CENTER_IP = "88.1.2.3"  # Telefonica de Espana
FAMILY_ACCOUNT, FAMILY_IP, FAMILY_NUMBER = "sip20000001", "95.16.1.10", "+8613912345678"
FAMILY_HOME = ("+8613700000001", "+8613700000002", "+8613700000003")
AIRLINE_ACCOUNT, AIRLINE_IP, AIRLINE_NUMBER = "sip30000001", "62.82.1.20", "+864001234567"
VICTIMS = ("+8613800000010", "+8613800000020", "+8613800000030")
BLOCK = [f"+86138000000{n:02d}" for n in range(100)]
MULE, MULE2, SHOP = "6222000000000000001", "6222000000000000002", "6222000000000000009"


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _national(e164: str) -> str:
    return e164.removeprefix("+86")


def build(root: Path, *, tables: tuple[str, ...] | None = None) -> Path:
    """Write the hand-made case into ``root`` (only ``tables`` if given) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    carrier: list[list[object]] = []
    voip: list[list[object]] = []

    def call(t: dt.datetime, account: str, ip: str, shown: str, to: str, talk: int,
             intl: str = "ES") -> None:  # fmt: skip
        n = len(voip) + 1
        answered = talk > 0
        voip.append([f"V{n:05d}", _iso(t), account, ip, "Z 5.2", shown, to, talk,
                     200 if answered else 480])  # fmt: skip
        carrier.append([f"C{n:05d}", _iso(t + dt.timedelta(seconds=2)), shown, _national(to),
                        talk, str(answered).lower(), f"INTL-{intl}-01", intl, ""])  # fmt: skip

    # The center: each number of the block once, a new spoofed mobile each call; victims
    # answer, listen, and are called back days later by the 'police' from the other account.
    for i, to in enumerate(BLOCK):
        t = T0 + dt.timedelta(minutes=3 * i)
        talk = 150 if to in VICTIMS else (5 if i % 4 == 0 else 0)
        call(t, CENTER_ACCOUNTS[i % 2], CENTER_IP, f"+86139{55500000 + i * 7:08d}", to, talk)
    for k, victim in enumerate(VICTIMS):
        call(T0 + dt.timedelta(days=2, hours=k), CENTER_ACCOUNTS[1], CENTER_IP,
             "+861066110110", victim, 900)  # fmt: skip
    # The family: every evening, the same three people, long calls, their own number.
    for day in range(30):
        for j, home in enumerate(FAMILY_HOME):
            call(T0 + dt.timedelta(days=day, hours=11, minutes=j * 20), FAMILY_ACCOUNT,
                 FAMILY_IP, FAMILY_NUMBER, home, 600 + j)  # fmt: skip
    # The airline: many customers once each, its own toll-free number.
    for i in range(120):
        call(T0 + dt.timedelta(hours=1, minutes=2 * i), AIRLINE_ACCOUNT, AIRLINE_IP,
             AIRLINE_NUMBER, f"+86137100{i:05d}", 120 if i % 2 else 0)  # fmt: skip

    accounts = [
        [f"6222000000001{k:06d}", "ICBC", "CN", f"H{k:04d}", _national(v), "2010-01-01",
         "personal"] for k, v in enumerate(VICTIMS)
    ] + [
        [MULE, "ICBC", "CN", "H9001", "13600000001", "2016-06-20", "personal"],
        [MULE2, "ICBC", "CN", "H9002", "13600000002", "2016-06-25", "personal"],
        [SHOP, "ICBC", "CN", "H9009", "13600000009", "2005-03-01", "business"],
    ] + [
        [f"6222000000002{k:06d}", "ICBC", "CN", f"H{100 + k:04d}", f"137200{k:05d}",
         "2012-01-01", "personal"] for k in range(40)
    ]  # fmt: skip
    transfers: list[list[object]] = []

    def pay(t: dt.datetime, payer: str, payee: str, amount: str, channel: str) -> None:
        transfers.append([f"T{len(transfers) + 1:05d}", _iso(t), payer, payee, amount, "CNY",
                          channel])  # fmt: skip

    for k in range(3):
        t = T0 + dt.timedelta(days=2, hours=k + 1)
        pay(t, accounts[k][0], MULE, f"{50000 + k * 1000}.00", "online")
        pay(t + dt.timedelta(hours=2), MULE, MULE2, f"{49000 + k * 1000}.00", "online")
        pay(t + dt.timedelta(hours=5), MULE2, "", f"{48000 + k * 1000}.00", "atm")
    for k in range(40):  # the shop's customers, and two of the victims shopping too
        pay(T0 + dt.timedelta(days=k % 20, hours=k % 9), f"6222000000002{k:06d}", SHOP,
            "88.00", "mobile")  # fmt: skip
    for k in range(2):
        pay(T0 + dt.timedelta(days=3, hours=k), accounts[k][0], SHOP, "120.00", "mobile")

    # The victim remembers the police number, and the mule account with a typo.
    reports = [["R001", _iso(T0 + dt.timedelta(days=5)), _national(VICTIMS[0]),
                "010-6611-0110", MULE[:-1] + "7", "50000.00", "CNY", "zh", "有人冒充警察"]]

    files = {
        "carrier_cdr": (["call_id", "start_time", "caller_number", "called_number",
                         "duration_s", "answered", "ingress_trunk", "ingress_country",
                         "attestation"], carrier),
        "voip_cdr": (["call_id", "start_time", "sip_account", "source_ip", "user_agent",
                      "from_number", "to_number", "duration_s", "sip_status"], voip),
        "accounts": (["account_id", "bank", "country", "holder_id", "holder_phone",
                      "opened_on", "kind"], accounts),
        "transfers": (["tx_id", "time", "payer_account", "payee_account", "amount",
                       "currency", "channel"], transfers),
        "reports": (["report_id", "filed_at", "victim_phone", "reported_numbers",
                     "reported_accounts", "amount_lost", "currency", "language", "narrative"],
                    reports),
    }  # fmt: skip
    for name, (header, rows) in files.items():
        if tables is not None and name not in tables:
            continue
        with (root / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
    (root / "holder.json").write_text(json.dumps({"country": "CN", "tables": {"voip_cdr": "ES"}}))
    return root
