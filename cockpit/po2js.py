#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Cockpit page's po.LANG.js from po/LANG.po (a build step, not installed):

    po2js.py LANG.po OUTPUT.js

The catalogue is the project's one (migrationd); the page gets the messages
whose source is under cockpit/ (msggrep), translated and not fuzzy
(msgattrib), compiled by msgfmt and read back with Python's gettext module.
Written as Cockpit's pages expect it, a call that po.js makes when the
bridge serves it for the session's language:

    cockpit.locale({"": {"plural-forms": (n) => EXPR, "language": "de",
                         "language-direction": "ltr"},
                    "MSGID": [null, "MSGSTR"], "CTXT\\u0004MSGID": [...],
                    "SINGULAR": [null, "FORM0", "FORM1"]})
"""

import gettext
import io
import json
import os
import re
import subprocess
import sys

RTL = {'ar', 'fa', 'he', 'ur'}
# A C plural expression as gettext allows it is also JavaScript; refuse
# anything else, since it becomes code in the page.
PLURAL_RE = re.compile(r'^\s*nplurals\s*=\s*\d+\s*;\s*plural\s*=\s*([n0-9\s()?:!=<>%&|+*/-]+?)\s*;?\s*$')


def gettext_tool(argv, stdin=None):
    p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit('%s failed: %s' % (argv[0], p.stderr.decode(errors='replace').strip()))
    return p.stdout


def compiled(po_text):
    """@po_text (bytes of a .po) compiled by msgfmt, read by Python's gettext."""
    mo = gettext_tool(['msgfmt', '--check-format', '-o', '-', '-'], po_text)
    return gettext.GNUTranslations(io.BytesIO(mo))


def page_catalogue(po):
    """@po's translated, non-fuzzy messages from cockpit/ (None: there are none)."""
    page = gettext_tool(['msggrep', '--location=cockpit/*', po])
    done = gettext_tool(['msgattrib', '--translated', '--no-fuzzy', '-'], page) if page.strip() else b''
    return compiled(done) if done.strip() else None


def entries(page):
    """msgid (with its context, as cockpit.gettext looks it up) -> [null, forms...]."""
    out = {}
    # pylint: disable-next=protected-access
    for key, value in page._catalog.items():
        if key == '':
            continue
        if isinstance(key, tuple):          # (singular, form index) of a plural message
            forms = out.setdefault(key[0], [None])
            while len(forms) <= key[1] + 1:
                forms.append(None)
            forms[key[1] + 1] = value
        else:
            out[key] = [None, value]
    return out


def main():
    po, output = sys.argv[1], sys.argv[2]
    with open(po, 'rb') as f:
        info = compiled(f.read()).info()      # the header: language, plural forms
    page = page_catalogue(po)
    language = info.get('language') or os.path.basename(po)[:-len('.po')]
    m = PLURAL_RE.match(info.get('plural-forms', 'nplurals=2; plural=(n != 1);'))
    if not m:
        sys.exit('%s: a Plural-Forms header that is not a plain expression of n: %r' % (po, info.get('plural-forms')))
    header = '"": {"plural-forms": (n) => %s, "language": %s, "language-direction": %s}' % (
        m.group(1), json.dumps(language), json.dumps('rtl' if language.split('_')[0] in RTL else 'ltr'))
    body = json.dumps(entries(page) if page else {}, ensure_ascii=False, indent=1, sort_keys=True)[1:-1].strip()
    text = 'cockpit.locale({\n ' + header + (',\n ' + body if body else '') + '\n});\n'
    tmp = output + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, output)


if __name__ == '__main__':
    main()
