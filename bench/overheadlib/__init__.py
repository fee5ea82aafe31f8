"""bench/overhead's modules: the benchmark split by what each part does.

bench/overhead is the executable (meson's benchmark() runs it); everything
else lives here so that each file stays small enough to read in one sitting.
Layering, lowest first (each module imports only from modules above it, so
there are no cycles):

  common        sys.path set-up, gi, tests/integration's harness/p2ptest/
                bridgetest, bench/scale; constants, Deadlines (scaled with
                --memory), BenchError, log(), now()
  stats         median, percentiles, summaries
  cases         the measured cases (guest kind x migration flags)
  serial        the guests' console logs: counters, the moved-guest check
  qmp           the raw path's QMP client
  dbusclient    the managed paths' timed raw-socket D-Bus client, GVariants
  processes     one "host": private bus + migrationd (+ dbusmock polkitd)
  guests        a guest kind: its XML and QEMU command line
  guestsize     --memory: free RAM for the run, the TCG RAM pad, what the
                memory check covers
  domsignals    reading the Domain's PropertiesChanged/JobCompleted signals
  profiling     --profile: daemon log lines per phase call
  path_raw      path (a): raw QEMU through QMP
  path_managed  path (b): the five phases over two buses
  path_p2p      path (c): MigrateToURI3 through the migration-bridge
  lvhosts       path (d)'s two libvirtd, each in its own network namespace
  path_libvirt  path (d): virsh migrate --live --p2p between them
  bench         the run loop: set-up, alternation, clean-up
  report        the statistics of the runs and the printed tables
  cli           command line, exit codes, the JSON document

--linux-guest (the Linux test guest with a disk and a NIC, NON_SHARED_DISK),
on top of common, qmp, dbusclient, processes, domsignals, profiling, path_p2p:

  linux_env     the guest's cache, the bridge, taps, the image, consoles, pingers
  linux_raw     path (a): raw QEMU's NBD flow over QMP
  linux_managed paths (b) and (c) for the Linux guest
  linux_bench   its run loop, qemu-img convert, clean-up
  linux_report  its figures and printed report
  linux_cli     its part of the command line, exit codes, JSON
"""
