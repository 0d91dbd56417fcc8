# Debian's own kernel and busybox-static, fetched from the archive with apt-get download
# and unpacked without installing, cached (sourced by scripts/nested.sh and
# scripts/linux-guest.sh). Needs die() from the caller.
#
#   debian_kernel CACHE    fills CACHE once, then sets KVER, VMLINUZ, MODDIR, BUSYBOX
debian_kernel() {
	local cache=$1 kpkg d
	if [ ! -f "$cache/ready" ]; then
		command -v apt-get >/dev/null || die "apt-get is needed to fetch Debian's kernel"
		rm -rf "$cache" && mkdir -p "$cache/deb" "$cache/root" || die "cannot create $cache"
		# linux-image-amd64 names the current kernel package; download that one.
		kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
		[ -n "$kpkg" ] || die "apt-cache knows no linux-image-amd64 (run apt-get update)"
		(cd "$cache/deb" && apt-get download -q "$kpkg" busybox-static) >"$cache/fetch.log" 2>&1 ||
			die "apt-get download $kpkg busybox-static failed: $(tail -n1 "$cache/fetch.log")"
		for d in "$cache"/deb/*.deb; do
			dpkg-deb -x "$d" "$cache/root" || die "cannot unpack $d"
		done
		echo "$kpkg" >"$cache/kernel-package"
		touch "$cache/ready"
	fi
	KVER=$(cd "$cache/root/lib/modules" && ls | head -n1)
	VMLINUZ=$cache/root/boot/vmlinuz-$KVER
	MODDIR=$cache/root/lib/modules/$KVER/kernel
	BUSYBOX=$cache/root/bin/busybox
	[ -f "$VMLINUZ" ] && [ -x "$BUSYBOX" ] || die "the cache $cache is incomplete: remove it and run again"
}
