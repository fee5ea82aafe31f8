"""bench/load's modules (bench/load is the executable). On top of
bench/overheadlib (hosts, raw-socket D-Bus client, consoles, statistics) and
bench/scalelib/libvirt.py (libvirt-dbus on libvirt's test driver):

  client      one load client process (plain sockets, no GLib)
  clients     starting 16 of them, their figures over a time window
  migrations  guests, one timed managed migration (a thread each), the ninth
  run         the phases of a run and the clean-up
  report      the printed report and the goals
"""
