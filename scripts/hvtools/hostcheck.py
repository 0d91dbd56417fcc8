"""Whether this host can run the engine a matrix cell asks for, checked before the cell
starts so that a cell the host cannot run is recorded as skipped with the host's
reason. The programs check again themselves (hvm run and hvpeer exit 77 with their
reason); the two agree on what a usable KVM is: /dev/kvm opens read-write and answers
KVM_GET_API_VERSION with 12 (a /dev/kvm that opens but is no KVM, for example
/dev/null bound over it in a container, is not one)."""
import errno
import fcntl
import os
import shutil

KVM_DEVICE = "/dev/kvm"
KVM_GET_API_VERSION = 0xAE00        # _IO(KVMIO = 0xAE, 0x00)
KVM_API_VERSION = 12

QEMU = "qemu-system-x86_64"


def option(argv, name):
    """The value of --name V or --name=V in argv (the last one given), or None."""
    value = None
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            value = argv[i + 1]
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
    return value


def kvm_unusable(device=KVM_DEVICE):
    """Why device is not a usable KVM on this host, or None when it is."""
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return f"{device} is absent on this host (no KVM)"
        if e.errno in (errno.EACCES, errno.EPERM):
            return f"{device} is not readable and writable by this user"
        return f"{device} cannot be opened: {e.strerror}"
    try:
        version = fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError as e:
        return f"{device} opens but does not answer KVM_GET_API_VERSION ({e.strerror}): " \
               "not a KVM device"
    finally:
        os.close(fd)
    if version != KVM_API_VERSION:
        return f"{device} answers KVM_GET_API_VERSION with {version}, not " \
               f"{KVM_API_VERSION}: not a KVM this project can use"
    return None


def engine_unavailable(argv, kvm_device=KVM_DEVICE, catalog=None):
    """Why the engine a command asks for (--engine E) cannot run on this host, or None.
    What the engine needs of the host is what it says of itself (catalog: the
    descriptions of engines.py; an engine not in it is left to its program, which
    skips with its own reason). "kvm": a usable KVM; "qemu": the QEMU the command's
    --qemu names, else qemu-system-x86_64 from PATH (as hvpeer finds it)."""
    engine = option(argv, "--engine")
    e = catalog.get(engine) if catalog is not None and engine else None
    if e is None:
        return None
    if "kvm" in e.needs:
        why = kvm_unusable(kvm_device)
        if why:
            return f"engine {engine} needs a usable KVM: {why}"
    if "qemu" in e.needs:
        qemu = option(argv, "--qemu") or QEMU
        found = os.access(qemu, os.X_OK) if "/" in qemu else shutil.which(qemu)
        if not found:
            return f"engine {engine} needs {qemu} (Debian package qemu-system-x86)"
    return None


def kvm_mode(sysfs="/sys", device=KVM_DEVICE):
    """(flavour, paging) of this host's KVM as libhvlab's context names them (kvminfo.c:
    kvm_intel with ept or shadow-kvm, kvm_amd with npt or shadow-kvm, kvm_pvm with
    shadow-pvm), or ("none", why) without a usable KVM. Part of a node's kind: ratios
    measured under different paging must not be mixed."""
    why = kvm_unusable(device)
    if why:
        return "none", why
    for module, param, hw in (("kvm_intel", "ept", "ept"), ("kvm_amd", "npt", "npt")):
        if os.path.isdir(os.path.join(sysfs, "module", module)):
            try:
                with open(os.path.join(sysfs, "module", module, "parameters", param),
                          encoding="ascii") as f:
                    on = f.read().strip() in ("Y", "y", "1")
            except OSError:
                return module, f"unavailable: {module}/parameters/{param} is missing"
            return module, hw if on else "shadow-kvm"
    if os.path.isdir(os.path.join(sysfs, "module", "kvm_pvm")):
        return "kvm_pvm", "shadow-pvm"
    return "unknown", "unavailable: no kvm_intel, kvm_amd or kvm_pvm module"
