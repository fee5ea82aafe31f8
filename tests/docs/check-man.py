#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The man pages: they render without a warning, and they cannot drift from
the programs and the configuration parser.

    check-man.py render PAGE
        man -l renders PAGE (roff, as built from man/*.scd) with every groff
        warning on: standard error must stay empty, no line may be wider
        than 80 columns, and nothing like @VAR@ may be left of the build's
        substitutions.
    check-man.py options PAGE PROGRAM
        The options `PROGRAM --help` lists are the options PAGE documents
        (the terms of its lists that start with '-'), no more and no fewer;
        for migrationctl the commands too.
    check-man.py config PAGE MD_CONFIG_C SAMPLE_CONF
        The keys the parser reads (every `(kf, "group", "key"` call in
        md-config.c) are the keys PAGE documents under each [group], no more
        and no fewer; the sample configuration lists each of them under its
        group, commented out.

Exit status 0 when all holds, 1 (with a list of what is wrong) otherwise,
77 when man(1) is missing.
"""

import os
import re
import shutil
import subprocess
import sys

SKIP = 77
# A list term of scdoc's output as man renders it: the page's text is indented
# by 7 columns, a term starts there, its description further in.
TERM = re.compile(r'^ {7}(\S.*)$')
OPTION = re.compile(r'(?<![\w-])(-[A-Za-z]|--[a-z][a-z0-9-]*)')
LEADING_OPTIONS = re.compile(r'^\s+((?:-[A-Za-z]|--[a-z][a-z0-9-]*)(?:[=\w\[\]:/+.<>|-]*)'
                             r'(?:,? +(?:-[A-Za-z]|--[a-z][a-z0-9-]*)[=\w\[\]:/+.<>|-]*)*)')


def render(page, warnings='all'):
    man = shutil.which('man')
    if not man:
        print('SKIP: man(1) is missing; install man-db (and groff-base)', file=sys.stderr)
        sys.exit(SKIP)
    env = dict(os.environ, MANWIDTH='80', LC_ALL='C.UTF-8', MAN_DISABLE_SECCOMP='1')
    env.pop('MANPAGER', None)
    env.pop('PAGER', None)
    return subprocess.run([man, '--warnings=' + warnings, '-E', 'UTF-8', '-l', page],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, check=False)


def text_of(page):
    proc = render(page)
    if proc.returncode != 0:
        sys.exit('man -l %s failed (status %d): %s' % (page, proc.returncode, proc.stderr))
    # Hyphens as groff may print them in UTF-8.
    return proc.stdout.replace('\u2010', '-').replace('\u2212', '-')


def check_render(page):
    proc = render(page)
    problems = []
    if proc.returncode != 0:
        problems.append('man exited with status %d' % proc.returncode)
    if proc.stderr.strip():
        problems.append('man/groff said on standard error:\n' + proc.stderr.rstrip())
    if len(proc.stdout.splitlines()) < 10 or 'NAME' not in proc.stdout:
        problems.append('the rendered page is (nearly) empty:\n' + proc.stdout)
    # Literal blocks are not filled: a long line there runs past the terminal.
    for line in proc.stdout.splitlines():
        if len(line) > 80:
            problems.append('a line wider than 80 columns: %r' % line)
    left = sorted(set(re.findall(r'@[A-Z_]+@', proc.stdout)))
    if left:
        problems.append('substitutions left unreplaced: ' + ', '.join(left))
    return problems


def terms(text, section=None):
    """The list terms of @text; only those under headings ending in @section
    when given (e.g. "COMMANDS")."""
    found, heading = [], ''
    for line in text.splitlines():
        if re.match(r'^\S', line):
            heading = line.strip()
            continue
        m = TERM.match(line)
        if m and (section is None or heading.endswith(section)):
            found.append(m.group(1))
    return found


def help_options(help_text):
    found = set()
    for line in help_text.splitlines():
        m = LEADING_OPTIONS.match(line)
        if m:
            found.update(OPTION.findall(m.group(1)))
    return found


def help_commands(help_text):
    # migrationctl's "Xxx Commands:" sections: "  verb OPERANDS   summary".
    found, in_commands = set(), False
    for line in help_text.splitlines():
        if re.match(r'^\S.*:$', line):
            in_commands = line.rstrip(':').endswith('Commands')
            continue
        m = re.match(r'^  ([a-z][a-z-]*)\b', line)
        if in_commands and m:
            found.add(m.group(1))
    return found


def compare(what, listed, documented, listed_by, documented_in):
    problems = []
    for item in sorted(listed - documented):
        problems.append('%s %s: listed by %s, missing from %s' % (what, item, listed_by, documented_in))
    for item in sorted(documented - listed):
        problems.append('%s %s: documented in %s, unknown to %s' % (what, item, documented_in, listed_by))
    return problems


def check_options(page, program):
    env = dict(os.environ, LC_ALL='C', LANGUAGE='')
    proc = subprocess.run([program, '--help'], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, check=False)
    if proc.returncode != 0:
        return ['%s --help failed (status %d): %s' % (program, proc.returncode, proc.stderr)]
    listed = help_options(proc.stdout)
    if len(listed) < 2:
        return ['found no options in the output of %s --help:\n%s' % (program, proc.stdout)]
    text = text_of(page)
    documented = set()
    for term in terms(text):
        if term.startswith('-'):
            documented.update(OPTION.findall(term))
    name = os.path.basename(program)
    problems = compare('option', listed, documented, '%s --help' % name, os.path.basename(page))
    commands = help_commands(proc.stdout)
    if commands:
        described = {t.split()[0] for t in terms(text, 'COMMANDS')}
        problems += compare('command', commands, described, '%s --help' % name, os.path.basename(page))
    print('%s: %d options%s checked' % (name, len(listed), ', %d commands' % len(commands) if commands else ''))
    return problems


def parser_keys(source):
    keys = {}
    with open(source) as f:
        for group, key in re.findall(r'\(\s*kf\s*,\s*"([a-z_]+)"\s*,\s*"([a-z_]+)"', f.read()):
            keys.setdefault(group, set()).add(key)
    return keys


def page_keys(text):
    """[group] headings at the left margin, then key=VALUE terms."""
    keys, group = {}, None
    for line in text.splitlines():
        heading = re.match(r'^\[([a-z_]+)\]\s*$', line)
        if heading:
            group = heading.group(1)
            keys.setdefault(group, set())
            continue
        if re.match(r'^\S', line):
            group = None
            continue
        m = TERM.match(line)
        if group and m:
            keys[group].update(re.findall(r'(?<![\w])([a-z_]+)=', m.group(1)))
    return keys


def sample_keys(path):
    keys, group = {}, None
    with open(path) as f:
        for line in f:
            heading = re.match(r'^\[([a-z_]+)\]\s*$', line)
            if heading:
                group = heading.group(1)
                keys.setdefault(group, set())
                continue
            m = re.match(r'^#\s*([a-z_]+)=', line)
            if group and m:
                keys[group].add(m.group(1))
    return keys


def flatten(keys):
    return {'[%s] %s' % (g, k) for g, ks in keys.items() for k in ks}


def check_config(page, source, sample):
    known = flatten(parser_keys(source))
    if len(known) < 10:
        return ['found only %d keys in %s: has the parser changed its form? (%s)' %
                (len(known), source, ', '.join(sorted(known)))]
    problems = compare('key', known, flatten(page_keys(text_of(page))), 'md-config.c', os.path.basename(page))
    problems += compare('key', known, flatten(sample_keys(sample)), 'md-config.c', os.path.basename(sample))
    print('%d configuration keys checked' % len(known))
    return problems


def main(argv):
    if len(argv) >= 2 and argv[0] == 'render':
        problems = check_render(argv[1])
    elif len(argv) == 3 and argv[0] == 'options':
        problems = check_options(argv[1], argv[2])
    elif len(argv) == 4 and argv[0] == 'config':
        problems = check_config(argv[1], argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for p in problems:
        print('FAIL: ' + p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
