#!/usr/bin/env python3
"""parts.py NAME=OUT[,OUT...] ...: instructions per request from instructions.sh's profiles.

For each build (NAME, one or more runs): the total per request of each run, then the exclusive
instructions per request (mean over its runs) by part of the request path, and the functions
whose count differs most between the first two builds. Function names are shortened (package
prefixes of the data path dropped, lower case) so that the same function matches across renames.
"""
import collections
import glob
import re
import subprocess
import sys

RENAMES = {'(*waiter).readonce': '(*waiter).recvonce', '(*waiter).writeonce': '(*waiter).sendonce',
           '(*upstreams).get': '(*upstreams).take', '(*proxy).tryinstancefront': '(*proxy).tryinstance',
           '(*waiter).readonce-fm': '(*waiter).recvonce-fm', '(*waiter).writeonce-fm': '(*waiter).sendonce-fm'}


def load(out):
    files = sorted(glob.glob(out + '.[0-9]*'))
    req = int(open(out + '.req').read())
    text = subprocess.run(['callgrind_annotate', '--threshold=100', '--auto=no', files[-1]],
                          capture_output=True, text=True, check=True).stdout
    fns, total = collections.Counter(), 0
    for line in text.splitlines():
        if 'PROGRAM TOTALS' in line:
            total = int(line.split()[0].replace(',', ''))
        if re.search(r'\((\d{3,}|[2-9]\d)\.\d+%\)', line):
            continue  # callgrind's cycle entries (goroutine switches): not exclusive costs
        m = re.match(r'\s*([\d,]+) \([ \d.]+%\)\s+(\S+?):(.*?)(?: \[.*\])?$', line)
        if not m:
            continue
        fn = m.group(3).replace('github.com/vamp-canary/terraform-provider-vamp/internal/gateway/', '')
        fn = re.sub(r"'\d+$", '', fn)
        fn = re.sub(r'^(proxy|httpframe|netpoll)\.', '', fn).lower()
        fns[RENAMES.get(fn, fn)] += int(m.group(1).replace(',', ''))
    return {k: v / req for k, v in fns.items()}, total / req


def part(k):
    if 'internal/condition' in k:
        return 'condition matcher'
    if 'internal/routing' in k:
        return 'weighted choice (routing)'
    if k in ('time.now', 'time.runtimenow', 'time.time.before'):
        return 'clock reads (time.Now)'
    if k in ('runtime.chanrecv', 'runtime.chanlen', 'runtime.selectnbrecv', 'runtime.empty', 'runtime.chanrecv1'):
        return 'channel operations'
    if k.startswith(('(*waiter)', '(*arrivals)', '(*ownedsocket)')) or 'rawsyscall6' in k or k == 'arrivalorder':
        return 'netpoll (waiters, dispatcher, raw system calls)'
    if k.startswith('(*upstreams)'):
        return 'upstream pool'
    if k in ('(*proxy).forward', '(*proxy).tryinstance', '(*proxy).exchangefront', '(*proxy).exchangefront.func1',
             '(*proxy).roundtripfront', '(*proxy).readanswerhead', '(*proxy).relay', 'relaybody', '(*proxy).servefront',
             '(*proxy).yieldbeforeread', 'yieldbeforeread', 'getfrontbuf', '(*upstreamconn).readhead',
             '(*upstreamconn).readsliced', '(*proxy).finish', '(*proxy).succeeded'):
        return 'forwarding'
    if k in ('parsefield', '(*request).parse', '(*response).parse', '(*response).appendclienthead',
             '(*request).appendupstreamhead', 'cutline', 'cutlinelf', 'parserequestline', 'plainpath',
             'requestheadend', '(*request).reset', '(*request).add', 'fieldvalue'):
        return 'HTTP framing'
    return None


builds = []
for arg in sys.argv[1:]:
    name, outs = arg.split('=', 1)
    runs = [load(o) for o in outs.split(',')]
    mean = collections.Counter()
    for fns, _ in runs:
        for k, v in fns.items():
            mean[k] += v / len(runs)
    builds.append((name, mean, [t for _, t in runs]))
for name, _, totals in builds:
    print(f'{name}: total instructions per request, each run: ' + ' '.join(f'{t:.0f}' for t in totals))
print()
print(f'{"part":50s}' + ''.join(f'{n:>12s}' for n, _, _ in builds))
names = sorted({part(k) for _, m, _ in builds for k in m if part(k)})
for p in names:
    print(f'{p:50s}' + ''.join(f'{sum(v for k, v in m.items() if part(k) == p):12.0f}' for _, m, _ in builds))
if len(builds) >= 2:
    (na, a, _), (nb, b, _) = builds[0], builds[1]
    print(f'\nlargest differences {nb} - {na} (instructions per request):')
    for k in sorted(set(a) | set(b), key=lambda k: -abs(b.get(k, 0) - a.get(k, 0)))[:30]:
        print(f'{a.get(k, 0):9.1f} {b.get(k, 0):9.1f} {b.get(k, 0) - a.get(k, 0):+9.1f}  {k}')
