# SPDX-License-Identifier: LGPL-2.1-or-later
"""Test certificates made with certtool (gnutls-bin): a CA, or a host
certificate signed by one, for both TLS roles (server and client), as the
bridge, the peer-to-peer source and QEMU's x509 credentials use them.
Standard library only: the nspawn system test uses it outside the harness."""

import os
import shutil
import subprocess

CERTTOOL = shutil.which('certtool')


def certtool(cwd, *args):
    p = subprocess.run([CERTTOOL or 'certtool'] + list(args), cwd=cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError('certtool %s failed: %s' % (' '.join(args), p.stderr.decode(errors='replace')))


def make_cert(d, name, cn, ca=None, key_type='ecdsa', organization=None, ips=('127.0.0.1',), serial=None):
    """d/NAME.key and d/NAME.pem: a self-signed CA (@ca None) or a host
    certificate signed by the CA d/CA.pem, with SAN DNS localhost and IPs
    @ips, usages tls_www_server and tls_www_client. QEMU wants RSA keys
    (key_type='rsa': digitalSignature and keyEncipherment)."""
    tmpl = os.path.join(d, name + '.tmpl')
    with open(tmpl, 'w') as f:
        f.write('cn = "%s"\nexpiration_days = 2\n' % cn)
        if organization:
            f.write('organization = "%s"\n' % organization)
        if serial is not None:
            f.write('serial = %d\n' % serial)
        if ca:
            f.write('dns_name = "localhost"\n')
            f.write(''.join('ip_address = "%s"\n' % ip for ip in ips))
            f.write('tls_www_server\ntls_www_client\nsigning_key\nencryption_key\n')
        else:
            f.write('ca\ncert_signing_key\n')
    key_args = ['--key-type=rsa', '--bits=2048'] if key_type == 'rsa' else ['--key-type=' + key_type]
    certtool(d, '--generate-privkey', *key_args, '--outfile', name + '.key')
    if ca:
        certtool(d, '--generate-certificate', '--load-privkey', name + '.key', '--load-ca-certificate', ca + '.pem',
                 '--load-ca-privkey', ca + '.key', '--template', tmpl, '--outfile', name + '.pem')
    else:
        certtool(d, '--generate-self-signed', '--load-privkey', name + '.key', '--template', tmpl,
                 '--outfile', name + '.pem')
