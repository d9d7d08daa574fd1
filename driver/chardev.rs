// SPDX-License-Identifier: GPL-2.0

//! A misc character device, shaped like `kernel::miscdevice`, with the two
//! things that one lacks: `poll`, and a `file_operations` table whose `.owner`
//! pins the module while a file is open.
//!
//! C headers: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h).

use core::marker::PhantomData;
use kernel::{
    bindings,
    error::to_result,
    iov::{IovIterDest, IovIterSource},
    prelude::*,
    sync::Arc,
    types::{ForeignOwnable, Opaque},
};

use crate::context::Process;
use crate::wait::PollTable;

/// `O_NONBLOCK` and `IOCB_NOWAIT`: the caller asked not to sleep.
const O_NONBLOCK: u32 = bindings::O_NONBLOCK;
/// `IOCB_NOWAIT` is `RWF_NOWAIT` (include/linux/fs.h), a macro bindgen skips.
const IOCB_NOWAIT: i32 = 0x8;
/// `FMODE_NOWAIT` (include/linux/fs.h), a macro bindgen skips.
const FMODE_NOWAIT: bindings::fmode_t = 1 << 27;

/// `EBADFD`, which `kernel::error::code` lacks: what tun returns for a file
/// whose device is gone.
pub(crate) fn ebadfd() -> Error {
    Error::from_errno(-(bindings::EBADFD as i32))
}

/// What a driver implements to back the device: `Self` is one open file's
/// state, made by `open` and given back to `release`.
pub(crate) trait CharDevOps: Send + Sync + Sized + 'static {
    /// What every open file shares: the registration's data.
    type Shared: Send + Sync;
    fn open(shared: &Arc<Self::Shared>, ctx: &Process) -> Result<KBox<Self>>;
    fn release(self: KBox<Self>, ctx: &Process);
    fn read(&self, dst: &mut IovIterDest<'_>, nonblock: bool, ctx: &Process) -> Result<usize>;
    fn write(&self, src: &mut IovIterSource<'_>, ctx: &Process) -> Result<usize>;
    /// Returns the ready mask (`EPOLL*`) after registering with `table`.
    fn poll(&self, table: &PollTable<'_>, ctx: &Process) -> u32;
    /// `ioctl(2)`: `arg` is the caller's argument, often a user pointer.
    fn ioctl(&self, cmd: u32, arg: usize, ctx: &Process) -> Result<isize>;
}

/// A registered misc device.
///
/// # Invariants
///
/// `misc` is registered with `misc_register` and deregistered exactly once in
/// [`Drop`]; while registered, `data` is initialised.
#[pin_data(PinnedDrop)]
pub(crate) struct Registration<T: CharDevOps> {
    shared: Arc<T::Shared>,
    #[pin]
    misc: Opaque<bindings::miscdevice>,
}

// SAFETY: `misc_deregister` may be called from any thread.
unsafe impl<T: CharDevOps> Send for Registration<T> {}
// SAFETY: `&self` gives no access to the C structure.
unsafe impl<T: CharDevOps> Sync for Registration<T> {}

impl<T: CharDevOps> Registration<T> {
    pub(crate) fn register(name: &'static CStr, shared: Arc<T::Shared>) -> impl PinInit<Self, Error> {
        // `shared` comes first: `open` may run as soon as `misc_register` returns.
        try_pin_init!(Self {
            shared,
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut misc: bindings::miscdevice = pin_init::zeroed();
                misc.minor = bindings::MISC_DYNAMIC_MINOR as i32;
                misc.name = name.as_char_ptr();
                // A promoted constant: it lives forever.
                misc.fops = &VTable::<T>::FOPS;
                // SAFETY: `slot` is valid for writes and pinned; it is
                // deregistered in `drop` before its memory goes away.
                unsafe {
                    slot.write(misc);
                    to_result(bindings::misc_register(slot))
                }
            }),
        })
    }
}

#[pinned_drop]
impl<T: CharDevOps> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: registered by the type invariants.
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

/// Borrows the data stored in an open file's `private_data`.
///
/// # Safety
///
/// `file` must be a file opened by [`open_callback`] and not yet released.
unsafe fn file_data<'a, T: CharDevOps>(file: *mut bindings::file) -> &'a T {
    // SAFETY: `open_callback` stored a `KBox<T>` that `release_callback`
    // takes back; between them the file keeps it alive, which outlives
    // every file operation that calls this.
    unsafe { <KBox<T> as ForeignOwnable>::borrow((*file).private_data) }
}

/// # Safety
///
/// Only [`VTable<T>`]'s `file_operations` may call this, for `open` on a
/// device registered by [`Registration<T>`].
unsafe extern "C" fn open_callback<T: CharDevOps>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `misc_open` set `private_data` to our `miscdevice`, which is the
    // `misc` field of a live `Registration<T>` (it cannot be deregistered
    // during open).
    let reg = unsafe {
        let misc = (*file).private_data.cast::<Opaque<bindings::miscdevice>>();
        &*kernel::container_of!(misc, Registration<T>, misc)
    };
    // SAFETY: file operations run in process context.
    let ctx = unsafe { Process::new() };
    let data = match T::open(&reg.shared, &ctx) {
        Ok(data) => data,
        Err(e) => return e.to_errno(),
    };
    // Frames are datagrams: no file position (as tun).
    // SAFETY: `inode` and `file` are valid for the duration of open.
    unsafe { bindings::stream_open(inode, file) };
    // As tun: read and write honour IOCB_NOWAIT (io_uring, RWF_NOWAIT),
    // which the VFS refuses with EOPNOTSUPP unless the file says so.
    // SAFETY: open may set `f_mode` flags; nothing else sees the file yet.
    unsafe { (*file).f_mode |= FMODE_NOWAIT };
    // SAFETY: open owns `private_data`; `release_callback` takes it back.
    unsafe { (*file).private_data = data.into_foreign() };
    0
}

/// # Safety
///
/// As [`open_callback`], for `release`.
unsafe extern "C" fn release_callback<T: CharDevOps>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: release owns `private_data`, stored by `open_callback`.
    let data = unsafe { <KBox<T> as ForeignOwnable>::from_foreign((*file).private_data) };
    // SAFETY: file operations run in process context.
    data.release(&unsafe { Process::new() });
    0
}

/// # Safety
///
/// As [`open_callback`], for `read_iter`: `kiocb` and `iter` are valid.
unsafe extern "C" fn read_iter_callback<T: CharDevOps>(
    kiocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: guaranteed by the caller.
    let (file, nonblock) = unsafe { ((*kiocb).ki_filp, is_nonblocking(kiocb)) };
    // SAFETY: the file is open; `iter` is a valid destination iterator.
    let (data, dst) = unsafe { (file_data::<T>(file), IovIterDest::from_raw(iter)) };
    // SAFETY: file operations run in process context.
    match data.read(dst, nonblock, &unsafe { Process::new() }) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// As [`open_callback`], for `write_iter`: `kiocb` and `iter` are valid.
unsafe extern "C" fn write_iter_callback<T: CharDevOps>(
    kiocb: *mut bindings::kiocb,
    iter: *mut bindings::iov_iter,
) -> isize {
    // SAFETY: the file is open; `iter` is a valid source iterator.
    let (data, src) = unsafe { (file_data::<T>((*kiocb).ki_filp), IovIterSource::from_raw(iter)) };
    // SAFETY: file operations run in process context.
    match data.write(src, &unsafe { Process::new() }) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// # Safety
///
/// As [`open_callback`], for `poll`: `table` is null or valid for this call.
unsafe extern "C" fn poll_callback<T: CharDevOps>(
    file: *mut bindings::file,
    table: *mut bindings::poll_table,
) -> bindings::__poll_t {
    // SAFETY: the file is open.
    let data = unsafe { file_data::<T>(file) };
    // SAFETY: `file` is valid and `table` null or valid for this poll call.
    let table = unsafe { PollTable::from_raw(table, file) };
    // SAFETY: file operations run in process context.
    data.poll(&table, &unsafe { Process::new() })
}

/// # Safety
///
/// As [`open_callback`], for `unlocked_ioctl`.
unsafe extern "C" fn ioctl_callback<T: CharDevOps>(
    file: *mut bindings::file,
    cmd: c_uint,
    arg: c_ulong,
) -> c_long {
    // SAFETY: the file is open.
    let data = unsafe { file_data::<T>(file) };
    // SAFETY: file operations run in process context.
    match data.ioctl(cmd, arg as usize, &unsafe { Process::new() }) {
        Ok(n) => n as c_long,
        Err(e) => e.to_errno() as c_long,
    }
}

/// # Safety
///
/// `kiocb` must be valid, with a valid `ki_filp`.
unsafe fn is_nonblocking(kiocb: *mut bindings::kiocb) -> bool {
    // SAFETY: guaranteed by the caller.
    let (f_flags, ki_flags) = unsafe { ((*(*kiocb).ki_filp).f_flags, (*kiocb).ki_flags) };
    f_flags & O_NONBLOCK != 0 || ki_flags & IOCB_NOWAIT != 0
}

/// The `file_operations` for `T`, one table per type, built at compile
/// time (as `kernel::miscdevice`), whose `.owner` pins the module while a
/// file is open.
struct VTable<T>(PhantomData<T>);

impl<T: CharDevOps> VTable<T> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        owner: crate::THIS_MODULE.as_ptr(),
        open: Some(open_callback::<T>),
        release: Some(release_callback::<T>),
        read_iter: Some(read_iter_callback::<T>),
        write_iter: Some(write_iter_callback::<T>),
        poll: Some(poll_callback::<T>),
        // No `compat_ioctl`: 32-bit callers get ENOTTY (a 32-bit `struct
        // ifreq` is shorter; tun converts it, we do not yet).
        unlocked_ioctl: Some(ioctl_callback::<T>),
        ..pin_init::zeroed()
    };
}
