#!/usr/bin/env python3
"""The sync benches' site: N pages of ~8 KB (random words, seeded: the same site every run),
each with a marker paragraph the benches change. Usage: make_pages.py DIR N"""
import os
import random
import sys

d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
random.seed(42)
words = "tea sencha gyokuro matcha hojicha leaf kyoto uji shizuoka cup steep water bowl".split()
for i in range(n):
    body = " ".join(random.choice(words) for _ in range(1400))[:7800]
    html = f"---\ntitle: Page {i}\n---\n<h1>Page {i}</h1>\n<p class=\"marker\">initial</p>\n<p>{body}</p>\n"
    with open(os.path.join(d, f"{i:05d}.html"), "w") as f:
        f.write(html)
