#!/usr/bin/env python3
"""Writes a2b_base64.json: inputs and CPython's binascii.a2b_base64 output
(hex, or null where it raises), the reference for basic's lenient decoder.
Run with CPython 3.11: python3 gen_a2b_base64.py > a2b_base64.json"""
import binascii, json, random, sys

rng = random.Random(7617)
alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
junk = "=!# \t\r\n-_.:*~\x00\x7f"
cases = ["", "=", "==", "A", "AB", "ABC", "ABCD", "AB=", "AB==", "ABC=", "A===", "=AB==", "AB=C", "AB=CD==",
         "YWxpY2U6d29uZGVybGFuZA==", "Y!W!x!p!Y!2!U!6!d!2!9!u!Z!G!V!y!b!G!F!u!Z!A!=!=", "###", "YWxpY2U6d29uZGVybG=FuZA=Q==", "ABCD\u00e9", "\u00e9"]
for _ in range(600):
    n = rng.randrange(0, 24)
    cases.append("".join(rng.choice(alphabet if rng.random() < 0.7 else junk) for _ in range(n)))
out = []
for c in cases:
    try:
        r = binascii.a2b_base64(c).hex()
    except (binascii.Error, ValueError):
        r = None
    out.append({"in": c, "out_hex": r})
json.dump({"produced_by": "CPython %s binascii.a2b_base64" % sys.version.split()[0], "cases": out}, sys.stdout, indent=0)
sys.stdout.write("\n")
