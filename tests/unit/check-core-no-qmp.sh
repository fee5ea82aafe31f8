#!/bin/sh
# Fails when a file of src/core (the directory given) names a QMP command to
# the QMP client or builds JSON with json-glib's builder: both belong to the
# driver layer (src/drivers/qemu-monitor.h, qemu-migration-params.h).
#
# Not covered by this rule: the daemon's own state records on disk (the
# status file in state-store.c, the job journal in migration-journal.c), which
# are not QMP.
set -u
dir=$1
not_qmp="state-store.c migration-journal.c"
status=0

if grep -n 'qmp_client_execute_async\|qemu_command_list_add\|qmp_client_set_event_func' "$dir"/*.c; then
        echo "src/core talks QMP directly: use the typed API of src/drivers/qemu-monitor.h" >&2
        status=1
fi
if grep -nE '"(cont|stop|migrate|migrate-incoming|migrate_cancel|migrate-start-postcopy|migrate-set-capabilities|migrate-set-parameters|query-[a-z-]+|system_powerdown|object-add|object-del|qmp_capabilities)"' \
        "$dir"/*.c; then
        echo "src/core names a QMP command" >&2
        status=1
fi
for f in "$dir"/*.c; do
        case " $not_qmp " in
        *" $(basename "$f") "*) continue ;;
        esac
        if grep -n 'json_builder_' "$f"; then
                echo "$f builds JSON: QMP arguments belong to src/drivers" >&2
                status=1
        fi
done
exit $status
