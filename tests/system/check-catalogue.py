#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""i18n/catalogue-complete-LANG: po/LANG.po translates every message of
po/POTFILES (the Cockpit page, the policy, migrationctl, the daemon's bus
errors), none fuzzy. The page's HTML is read with po/its/cockpit-html.its;
i18n/cockpit-page-marked checks that none of its strings escapes the
template.

    check-catalogue.py SOURCE_ROOT LANG

The template is made as `ninja migrationd-pot` makes it (xgettext with the
glib preset's keywords and po/its for the policy), into a temporary file;
msgcmp then names every message the catalogue lacks. Update with
`ninja -C BUILDDIR migrationd-update-po`.
"""

import os
import shutil
import subprocess
import sys
import tempfile

# meson's i18n preset 'glib'
KEYWORDS = ['_', 'N_', 'C_:1c,2', 'NC_:1c,2', 'g_dcgettext:2', 'g_dngettext:2,3', 'g_dpgettext2:2c,3']


def main():
    root, lang = sys.argv[1], sys.argv[2]
    if not shutil.which('xgettext') or not shutil.which('msgcmp'):
        print('SKIPPED LOUDLY: xgettext/msgcmp (gettext) are missing')
        return 77
    po = os.path.join(root, 'po')
    with tempfile.TemporaryDirectory(prefix='md-pot-') as tmp:
        pot = os.path.join(tmp, 'migrationd.pot')
        argv = ['xgettext', '--from-code=UTF-8', '--add-comments', '-D', root, '-f', os.path.join(po, 'POTFILES'),
                '-o', pot] + ['--keyword=' + k for k in KEYWORDS]
        p = subprocess.run(argv, env=dict(os.environ, GETTEXTDATADIRS=po), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            print(p.stdout)
            print('xgettext failed with status %d' % p.returncode)
            return 1
        # Untranslated and fuzzy entries count as missing.
        p = subprocess.run(['msgcmp', os.path.join(po, lang + '.po'), pot], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        print(p.stdout, end='')
        if p.returncode != 0:
            print('po/%s.po lacks messages of po/POTFILES: run ninja migrationd-update-po and translate them' % lang)
            return 1
    print('po/%s.po translates every message of po/POTFILES' % lang)
    return 0


if __name__ == '__main__':
    sys.exit(main())
