#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""i18n/policy-covered: the merged polkit policy carries a translation of
every message for each language.

    check-policy-translations.py POLICY LANG...

Every <description> and <message> of every action needs a sibling of the
same tag with xml:lang=LANG that is not the English text (a missing or
fuzzy entry in po/LANG.po leaves the English text out of the merge).
"""

import sys
import xml.etree.ElementTree as ET

XML_LANG = '{http://www.w3.org/XML/1998/namespace}lang'


def main():
    policy, langs = sys.argv[1], sys.argv[2:]
    actions = ET.parse(policy).getroot().findall('action')
    failures, checked = [], 0
    for action in actions:
        for tag in ('description', 'message'):
            english = [e.text for e in action.findall(tag) if XML_LANG not in e.attrib]
            if len(english) != 1:
                failures.append('%s: expected one English <%s>, found %d' % (action.get('id'), tag, len(english)))
                continue
            for lang in langs:
                checked += 1
                texts = [e.text for e in action.findall(tag) if e.get(XML_LANG) == lang]
                if not texts or not texts[0] or texts[0] == english[0]:
                    failures.append('%s: <%s> %r has no %s translation' % (action.get('id'), tag, english[0], lang))
    if not actions:
        failures.append('%s has no actions' % policy)
    for f in failures:
        print(f)
    print('%d actions, %d messages x languages checked, %d missing' % (len(actions), checked, len(failures)))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
