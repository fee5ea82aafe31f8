#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""i18n/cockpit-page-marked: every string of the Cockpit page reaches the
catalogue, so that i18n/catalogue-complete-LANG covers the page.

    check-cockpit-strings.py SOURCE_ROOT

- every .js and .html file of cockpit/ is in po/POTFILES;
- cockpit/index.html is well-formed XML (xgettext reads it with
  po/its/cockpit-html.its), its text is all marked translate="yes" (or
  "no"), an element so marked holds text only (cockpit.translate() replaces
  its whole content), and the attributes people read (placeholder, title,
  aria-label) are named in translate="..." or marked "no";
- every _("...") and N_("...") of cockpit/*.js is in the template xgettext
  makes from that file: its JavaScript lexer can lose its way (a division
  inside a template literal) and then silently extracts nothing after it.
"""

import gettext
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

CALL_RE = re.compile(r'\bN?_\(\s*"((?:[^"\\\n]|\\.)*)"\s*\)')
READ_ATTRS = ('placeholder', 'title', 'aria-label')


def html_problems(path):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        return ['%s is not well-formed XML (xgettext cannot read it): %s' % (path, e)]
    problems = []

    def walk(el, mark):
        own = el.get('translate')
        if own in ('yes', 'no'):
            mark = own
        names = (own or '').split() if own not in ('yes', 'no') else []
        if own == 'yes' and len(el):
            problems.append('<%s translate="yes"> holds elements: cockpit.translate() would drop them' % el.tag)
        if (el.text or '').strip() and mark is None:
            problems.append('unmarked text in <%s>: %r' % (el.tag, el.text.strip()))
        for child in el:
            if (child.tail or '').strip() and mark is None:
                problems.append('unmarked text after <%s>: %r' % (child.tag, child.tail.strip()))
            walk(child, mark)
        for a in READ_ATTRS:
            if el.get(a) and a not in names and mark != 'no' and re.search('[A-Za-z]', el.get(a)):
                problems.append('<%s %s=%r> is neither in translate="..." nor marked translate="no"'
                                % (el.tag, a, el.get(a)))
    walk(root, None)
    return problems


def extracted(root, path, tmp):
    """The msgids xgettext takes from @path, through msgen/msgfmt and gettext."""
    pot = os.path.join(tmp, 'page.pot')
    subprocess.run(['xgettext', '--from-code=UTF-8', '--keyword=_', '--keyword=N_', '-D', root, '-o', pot,
                    '--force-po', os.path.relpath(path, root)], check=True)
    po = subprocess.run(['msgen', pot], check=True, stdout=subprocess.PIPE).stdout
    # The template's header says charset=CHARSET; the sources are UTF-8.
    po = po.replace(b'charset=CHARSET', b'charset=UTF-8', 1)
    mo = subprocess.run(['msgfmt', '-o', '-', '-'], input=po, check=True, stdout=subprocess.PIPE).stdout
    if not mo:                  # nothing extracted at all
        return set()
    with open(os.path.join(tmp, 'page.mo'), 'wb') as f:
        f.write(mo)
    with open(os.path.join(tmp, 'page.mo'), 'rb') as f:
        # pylint: disable-next=protected-access
        return {k for k in gettext.GNUTranslations(f)._catalog if isinstance(k, str) and k}


def main():
    root = sys.argv[1]
    for tool in ('xgettext', 'msgen', 'msgfmt'):
        if not shutil.which(tool):
            print('SKIPPED LOUDLY: %s (gettext) is missing' % tool)
            return 77
    page = os.path.join(root, 'cockpit')
    with open(os.path.join(root, 'po', 'POTFILES'), encoding='utf-8') as f:
        potfiles = {line.strip() for line in f if line.strip() and not line.startswith('#')}
    problems = []
    sources = sorted(n for n in os.listdir(page) if n.endswith(('.js', '.html')))
    for name in sources:
        if 'cockpit/' + name not in potfiles:
            problems.append('cockpit/%s is not in po/POTFILES' % name)
    problems += html_problems(os.path.join(page, 'index.html'))
    calls = 0
    with tempfile.TemporaryDirectory(prefix='md-page-pot-') as tmp:
        for name in sources:
            if not name.endswith('.js'):
                continue
            path = os.path.join(page, name)
            with open(path, encoding='utf-8') as f:
                wanted = [json.loads('"%s"' % m.group(1)) for m in CALL_RE.finditer(f.read())]
            calls += len(wanted)
            got = extracted(root, path, tmp)
            for msgid in wanted:
                if msgid not in got:
                    problems.append('cockpit/%s: xgettext did not extract %r' % (name, msgid))
    for p in problems:
        print(p)
    if problems:
        print('%d problem(s): the page has strings the catalogue does not see' % len(problems))
        return 1
    print('the page\'s %d files are in po/POTFILES, index.html is marked, and xgettext sees all %d _() calls'
          % (len(sources), calls))
    return 0


if __name__ == '__main__':
    sys.exit(main())
