//! Putting programs into the kernel: loading the object with aya and explaining verifier
//! rejections (`load`, `verifier`), attaching each probe (`attach`), and usdt sites with their
//! semaphores (`usdt`).

pub mod attach;
pub mod load;
pub mod usdt;
pub mod verifier;
