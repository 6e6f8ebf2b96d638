#!/bin/busybox sh
# /init of the LitePcie.Hil Linux guest (ours). The host (lab/linux-guest/run.sh) shares three folders over
# virtio-9p: hilrun (this boot's plan.env, and out/ for everything that goes back), hilpub (our published
# .NET assemblies, read-only) and dotnet (the host's .NET runtime, read-only). The kernel, busybox, the 9p
# modules, litepcie.ko (upstream and patched) and the upstream tools are in this initramfs.
# plan.env sets: BOARD, DRIVER (upstream|patched), SHELL_MODE (0|1), GUEST_ENV (exported to the steps)
# and STEPS, one per line: "<name>|<command line>", run in order from /hil/run/out.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp

say() { echo "guest: $*" > /dev/console; }
finish() {
    sync
    say "power off"
    poweroff -f
    sleep 5
}

for m in $(cat /etc/modules.order); do
    insmod "/lib/modules/$m" || say "insmod $m failed"
done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 hilrun /hil/run || { say "FATAL: cannot mount the run folder (hilrun)"; finish; }
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro hilpub /hil/publish || say "cannot mount hilpub"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose dotnet /usr/share/dotnet || say "cannot mount dotnet"

out=/hil/run/out
mkdir -p "$out"
. /hil/run/plan.env
echo "started $(date +%s)" > "$out/guest.status"

# The board's driver and tools.
tools="/boards/$BOARD"
if [ ! -d "$tools" ]; then
    say "FATAL: board $BOARD is not in this initramfs (built: $(ls /boards))"
    echo "error board-missing" >> "$out/guest.status"; finish
fi
export PATH="$tools:/bin"
t0=$(date +%s)
if insmod "$tools/litepcie-$DRIVER.ko"; then
    echo "litepcie.ko ($DRIVER) loaded in $(( $(date +%s) - t0 )) s" > "$out/insmod.txt"
else
    echo "insmod litepcie-$DRIVER.ko failed: exit $?" > "$out/insmod.txt"
fi
dmesg > "$out/dmesg-after-probe.txt"
ls -l /dev/litepcie* > "$out/dev-nodes.txt" 2>&1
cat /proc/bus/pci/devices > "$out/pci-devices.txt"

export DOTNET_ROOT=/usr/share/dotnet HOME=/root DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
       DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 DOTNET_gcServer=0 LITEPCIE_HIL_GUEST=1 \
       LITEPCIE_GUEST_BOARD="$BOARD" LITEPCIE_GUEST_DRIVER="$DRIVER" LITEPCIE_GUEST_OUT="$out" \
       LITEPCIE_HIL_SKIP_AUDIT_DIR="$out/skip-audit"
for kv in $GUEST_ENV; do export "$kv"; done

if [ "$SHELL_MODE" = 1 ]; then
    say "board $BOARD on litepcie.ko ($DRIVER): /dev/litepcie* ready; tools: litepcie_util, litepcie_test; .NET: dotnet /hil/publish/...; exit the shell to power off"
    setsid cttyhack sh -l
    finish
fi

# The steps of the plan, each with its exit status and wall time.
: > "$out/steps.tsv"
echo "$STEPS" | while IFS='|' read -r name command; do
    [ -n "$name" ] || continue
    say "step $name: $command"
    s=$(date +%s)
    (cd "$out" && eval "$command") > "$out/step-$name.log" 2>&1 < /dev/null
    rc=$?
    printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - s ))" >> "$out/steps.tsv"
    say "step $name: exit $rc in $(( $(date +%s) - s )) s"
done

dmesg > "$out/dmesg.txt"
cat /proc/sys/kernel/tainted > "$out/tainted.txt"
echo "finished $(date +%s)" >> "$out/guest.status"
finish
