//! A size-bucketed pool of storage buffers: a dropped tensor's buffer goes back to its bucket and
//! the next allocation of that bucket reuses it, so memory reaches a steady state in a training loop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::context::checked_create;
use crate::Result;

/// Free buffers beyond this many bytes are released to the driver instead of kept.
const MAX_FREE_BYTES: u64 = 1 << 30;

pub(crate) struct Pool {
    device: wgpu::Device,
    max_bytes: u64,
    free: Mutex<Free>,
    created: AtomicU64,
    /// Free operand textures (`textures.rs`).
    pub textures: Mutex<Vec<wgpu::Texture>>,
}

#[derive(Default)]
struct Free {
    buckets: HashMap<u64, Vec<wgpu::Buffer>>,
    bytes: u64,
}

/// A pooled storage buffer; dropping the last reference returns it to the pool.
pub(crate) struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    pool: Arc<Pool>,
    /// A texture copy of the contents, made for the kernels that read textures (`staged.rs`) and
    /// kept for the next ones: a tensor's buffer is only written by the op that creates it.
    pub texture_copy: Mutex<Option<wgpu::Texture>>,
    /// Whether a batch that used the buffer has been submitted: from then on it holds what the op
    /// that made it wrote (batch.rs `flush`).
    pub submitted: AtomicBool,
    /// Why the contents cannot be trusted: the batch that was to write them failed.
    pub failed: OnceLock<String>,
    /// The count of refused batches (`WgpuContext::failed_batches`) when a refused batch last held
    /// a copy of this buffer into a texture, or a kernel reading such a copy; 0 if none ever did.
    pub copy_lost_at: AtomicU64,
}

impl PooledBuffer {
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("a pooled buffer is present until dropped")
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.pool.give_back(buffer);
        }
        if let Some(texture) = self.texture_copy.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            super::textures::give_back(&self.pool, texture);
        }
    }
}

impl Pool {
    pub fn new(device: wgpu::Device, limits: &wgpu::Limits) -> Pool {
        // Whole vec4s, like every buffer of the pool (kernels bind tensors as vec4 arrays).
        let max_bytes = limits.max_buffer_size.min(limits.max_storage_buffer_binding_size) / 16 * 16;
        let textures = Mutex::new(Vec::new());
        Pool { device, max_bytes, free: Mutex::new(Free::default()), created: AtomicU64::new(0), textures }
    }

    /// Buckets are 1, 1.25, 1.5 and 1.75 times powers of two (at most 25% slack), multiples of 16
    /// bytes (kernels bind tensors as vec4 arrays, over whole vec4s).
    pub fn bucket(&self, bytes: u64) -> u64 {
        let size = bytes.max(16);
        let base = 1u64 << (63 - size.leading_zeros());
        let step = (base / 4).max(16);
        let bucket = size.div_ceil(step) * step;
        bucket.min(self.max_bytes.max(size))
    }

    /// A buffer of at least `bytes` (usable as storage and as a copy source and destination).
    /// The caller has checked `bytes` against the device limits; the driver running out of
    /// memory is an error naming `op`.
    pub fn alloc(self: &Arc<Self>, op: impl FnOnce() -> String, bytes: u64) -> Result<Arc<PooledBuffer>> {
        let bucket = self.bucket(bytes);
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            let buffer = free.buckets.get_mut(&bucket).and_then(Vec::pop);
            if buffer.is_some() {
                free.bytes -= bucket;
            }
            buffer
        };
        let buffer = match reused {
            Some(buffer) => buffer,
            None => {
                let buffer = checked_create(
                    &self.device,
                    || format!("{}: a buffer of {bucket} bytes", op()),
                    || {
                        self.device.create_buffer(&wgpu::BufferDescriptor {
                            label: Some("soma tensor"),
                            size: bucket,
                            usage: wgpu::BufferUsages::STORAGE
                                | wgpu::BufferUsages::COPY_SRC
                                | wgpu::BufferUsages::COPY_DST,
                            mapped_at_creation: false,
                        })
                    },
                )?;
                self.created.fetch_add(1, Ordering::Relaxed);
                buffer
            }
        };
        let (texture_copy, submitted, failed) = (Mutex::new(None), AtomicBool::new(false), OnceLock::new());
        let copy_lost_at = AtomicU64::new(0);
        Ok(Arc::new(PooledBuffer {
            buffer: Some(buffer),
            pool: self.clone(),
            texture_copy,
            submitted,
            failed,
            copy_lost_at,
        }))
    }

    fn give_back(&self, buffer: wgpu::Buffer) {
        let size = buffer.size();
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.bytes + size <= MAX_FREE_BYTES {
            free.bytes += size;
            free.buckets.entry(size).or_default().push(buffer);
        }
    }

    /// Bytes held in free buffers (for tests of the steady state).
    pub fn free_bytes(&self) -> u64 {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).bytes
    }
}

impl Pool {
    /// How many device buffers have been created.
    pub fn created(&self) -> u64 {
        self.created.load(Ordering::Relaxed)
    }
}
