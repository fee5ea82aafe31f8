# SPDX-License-Identifier: LGPL-2.1-or-later
"""A dbusmock template: polkitd with challenges and an authentication agent.

python3-dbusmock's own polkitd template answers every CheckAuthorization with
is_challenge = false, so it cannot show what a caller sees when polkit wants
a password. This one can:

  SetAllowed(as)      actions authorized outright (as the stock template)
  SetChallenge(as)    actions that need authentication: without
                      ALLOW_USER_INTERACTION (flag 1) the answer is
                      (false, true): "a challenge"; with it, the simulated
                      agent decides
  SetAgentAnswer(b)   what the simulated agent says: true = the user
                      authenticated, false = dismissed (then the answer is
                      (false, false), as polkitd gives after a dismissed
                      dialog)

Use: python3 -m dbusmock --system --template /path/to/polkitd_challenge.py
"""

import dbus

from dbusmock import MOCK_IFACE

BUS_NAME = 'org.freedesktop.PolicyKit1'
MAIN_OBJ = '/org/freedesktop/PolicyKit1/Authority'
MAIN_IFACE = 'org.freedesktop.PolicyKit1.Authority'
SYSTEM_BUS = True

ALLOW_USER_INTERACTION = 1


def load(mock, _parameters):
    mock.AddProperties(MAIN_IFACE, dbus.Dictionary({
        'BackendName': 'mock-challenge',
        'BackendVersion': '0',
        'BackendFeatures': dbus.UInt32(1, variant_level=1),
    }, signature='sv'))
    mock.allowed = []
    mock.challenge = []
    mock.agent_answer = False


@dbus.service.method(MAIN_IFACE, in_signature='(sa{sv})sa{ss}us', out_signature='(bba{ss})')
def CheckAuthorization(self, _subject, action_id, _details, flags, _cancellation_id):
    if action_id in self.allowed:
        return (True, False, {})
    if action_id in self.challenge:
        if not flags & ALLOW_USER_INTERACTION:
            return (False, True, {})
        if self.agent_answer:
            return (True, False, {'polkit.retains_authorization_after_challenge': '1'})
        return (False, False, {'polkit.dismissed': 'true'})
    return (False, False, {})


@dbus.service.method(MOCK_IFACE, in_signature='as', out_signature='')
def SetAllowed(self, actions):
    self.allowed = [str(a) for a in actions]


@dbus.service.method(MOCK_IFACE, in_signature='as', out_signature='')
def SetChallenge(self, actions):
    self.challenge = [str(a) for a in actions]


@dbus.service.method(MOCK_IFACE, in_signature='b', out_signature='')
def SetAgentAnswer(self, answer):
    self.agent_answer = bool(answer)
