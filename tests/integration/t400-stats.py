"""t400-stats.py -- helpers for t400-stats.sh: a strict Prometheus text-format parser,
a scan of the data directory for anything identifying, and checks of the stats JSON.
Usage:
  t400-stats.py metrics FILE NAME{labels}=VALUE ...  every sample line valid; values equal
  t400-stats.py scan DIR NEEDLE...                  no file (nor the SQLite dump) holds one
  t400-stats.py get FILE EXPR                       print eval(EXPR) with d = the JSON
"""
import json
import os
import re
import sqlite3
import sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^(' + NAME + r')(\{(?:' + LABEL + r')(?:,' + LABEL + r')*\})? '
                    r'(-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|NaN|[+-]Inf)( -?[0-9]+)?$')
HELP = re.compile(r'^# HELP (' + NAME + r') .*$')
TYPE = re.compile(r'^# TYPE (' + NAME + r') (counter|gauge|histogram|summary|untyped)$')


def parse_metrics(text):
    """Returns {"name{labels}": value}; raises ValueError on any malformed line."""
    out, types = {}, {}
    if not text.endswith('\n'):
        raise ValueError('the exposition must end with a newline')
    for i, line in enumerate(text.split('\n')[:-1], 1):
        if line.startswith('# HELP '):
            if not HELP.match(line):
                raise ValueError(f'line {i}: bad HELP: {line!r}')
            continue
        if line.startswith('# TYPE '):
            m = TYPE.match(line)
            if not m:
                raise ValueError(f'line {i}: bad TYPE: {line!r}')
            if m.group(1) in types:
                raise ValueError(f'line {i}: second TYPE for {m.group(1)}')
            types[m.group(1)] = m.group(2)
            continue
        if line.startswith('#') or line == '':
            raise ValueError(f'line {i}: unexpected {line!r}')
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f'line {i}: bad sample: {line!r}')
        name, labels, value = m.group(1), m.group(2) or '', m.group(3)
        base = re.sub(r'_(total|sum|count|bucket)$', '', name)
        if name not in types and base not in types:
            raise ValueError(f'line {i}: {name} has no TYPE')
        key = name + labels
        if key in out:
            raise ValueError(f'line {i}: duplicate sample {key}')
        out[key] = float(value)
    return out


def main():
    cmd = sys.argv[1]
    if cmd == 'metrics':
        m = parse_metrics(open(sys.argv[2]).read())
        bad = 0
        for want in sys.argv[3:]:
            k, v = want.rsplit('=', 1)
            if m.get(k) != float(v):
                print(f'{k}: got {m.get(k)}, want {v}')
                bad += 1
        print(f'{len(m)} samples')
        sys.exit(1 if bad else 0)
    if cmd == 'scan':
        top, needles = sys.argv[2], [n.encode() for n in sys.argv[3:]]
        found = []
        for dirpath, _, files in os.walk(top):
            for f in files:
                p = os.path.join(dirpath, f)
                if f == 'tollgate.conf':
                    continue  # the operator's own settings (listen address)
                data = open(p, 'rb').read()
                found += [f'{p}: {n.decode()}' for n in needles if n in data]
        db = os.path.join(top, 'meta.db')
        if os.path.exists(db):
            dump = '\n'.join(sqlite3.connect(db).iterdump()).encode()
            found += [f'sqlite dump: {n.decode()}' for n in needles if n in dump]
        for f in found:
            print(f)
        sys.exit(1 if found else 0)
    if cmd == 'get':
        d = json.load(open(sys.argv[2]))
        print(eval(sys.argv[3], {"d": d}))
        return


main()
