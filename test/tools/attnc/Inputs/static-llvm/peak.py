"""Reads attnc -v from stdin; fails unless its peak memory is at most argv[1] MB."""
import re
import sys

text = sys.stdin.read()
m = re.search(r"attnc: peak memory (\d+) MB", text)
if not m:
    sys.exit("no 'attnc: peak memory' line in:\n" + text)
peak, limit = int(m.group(1)), int(sys.argv[1])
print(f"peak {peak} MB, limit {limit} MB")
sys.exit(0 if peak <= limit else f"peak memory {peak} MB > {limit} MB")
