//! Lazy submission: dispatches and copies are recorded in a CPU-side batch and encoded into one
//! command encoder when the batch is flushed (at readback, at synchronize, or every
//! `FLUSH_EVERY` dispatches), never a submit + wait per op.
//!
//! Nothing is written with `queue.write_buffer` (which would run before the pending commands):
//! kernel parameters of a batch are packed into one uniform buffer created (mapped) at flush time,
//! each dispatch binding its own aligned range, and uploads go through fresh mapped staging buffers
//! copied in command order. Buffers a pending command uses are held by the batch, so they return to
//! the pool only once the commands that use them have been submitted.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use super::WgpuStorage;
use super::context::{WgpuContext, checked_create};
use super::pipelines::Kernel;
use super::pool::PooledBuffer;
use crate::{BinaryOp, Error, Result};

/// Dispatches recorded before the batch is submitted without waiting. Submitting sooner lets the
/// device start while the rest of a step is recorded and encoded (encoding a 35-dispatch MLP step
/// took 0.25-0.4 ms before anything ran). On lavapipe, against 64: `char_lm --quick` 4.1 -> 3.2-3.4 s
/// an epoch, the MNIST MLP step 5.22 -> 5.08 ms (medians of 5), `mnist_cnn --quick` no slower.
const FLUSH_EVERY: usize = 16;
/// Upload bytes held in staging buffers before the batch is submitted without waiting.
const FLUSH_UPLOAD_BYTES: u64 = 64 << 20;
/// Readback staging buffers kept for reuse, per size bucket.
const STAGING_PER_BUCKET: usize = 2;
/// How long a wait polls the device (yielding the core between polls) before it blocks. A blocking
/// wait sleeps until the driver's thread signals it; on lavapipe that wake-up cost ~40 us, a third
/// of a one-element op and its readback (0.117 -> 0.080 ms median with a 200 us spin). Against
/// 200 us, 1 ms took the MNIST MLP step from 4.50-5.46 to 4.39-4.64 ms (medians of 5 alternating
/// runs), whose final wait often ends within it; matmul and relu(a+b) were unchanged.
const SPIN_BEFORE_BLOCKING: Duration = Duration::from_millis(1);

#[derive(Default)]
pub(crate) struct Batch {
    commands: Vec<Command>,
    params: Vec<u8>,
    dispatches: usize,
    upload_bytes: u64,
    /// While above 0, the dispatches of one op that writes its output in several are being
    /// recorded (`record_together`): no flush between them, so one batch holds the whole write.
    together: usize,
    /// Free MAP_READ staging buffers by size, reused across readbacks.
    staging: HashMap<u64, Vec<wgpu::Buffer>>,
}

enum Command {
    Dispatch {
        kernel: Kernel,
        pipeline: Arc<wgpu::ComputePipeline>,
        params: (u64, u64),
        bindings: Vec<(u32, Arc<PooledBuffer>, u64)>,
        textures: Vec<(u32, wgpu::TextureView)>,
        /// Tensors read only through their texture copies, held like the bound buffers (so a
        /// copy the dispatch reads is not fused away: `fuse_epilogues` counts holders).
        sources: Vec<Arc<PooledBuffer>>,
        groups: [u32; 3],
    },
    Upload {
        staging: wgpu::Buffer,
        dst: Arc<PooledBuffer>,
        bytes: u64,
    },
    Readback {
        src: Arc<PooledBuffer>,
        staging: wgpu::Buffer,
        bytes: u64,
    },
    /// The first `texels` vec4s of `src` into `dst`, row after row (`staged.rs`).
    CopyToTexture {
        src: Arc<PooledBuffer>,
        dst: wgpu::Texture,
        texels: u64,
        row_texels: u64,
    },
}

impl Batch {
    /// Whether the last dispatch recorded may be fused with a next one: a product or a sum
    /// (`binary_same` without an epilogue), or `mul_add`.
    fn ends_in_fusable(&self) -> bool {
        let last = self.commands.iter().rev().find_map(|c| match c {
            Command::Dispatch { kernel, .. } => Some(kernel),
            _ => None,
        });
        last.is_some_and(|k| {
            is_binary_same(k, BinaryOp::Mul) || is_binary_same(k, BinaryOp::Add) || k.entry == "mul_add"
        })
    }
}

/// What a dispatch reads from textures: the views to bind, the tensors it reads only through their
/// copies (the texture matmul's operands, held by the batch as bound buffers are), and
/// `WgpuContext::failed_batches` as it was before the copies were staged.
#[derive(Clone, Copy)]
pub struct TextureReads<'a> {
    pub views: &'a [(u32, &'a wgpu::TextureView)],
    pub sources: &'a [&'a WgpuStorage],
    pub since: u64,
}

impl TextureReads<'_> {
    /// No textures: nothing staged, so nothing a refused batch can have lost.
    pub const NONE: TextureReads<'static> = TextureReads { views: &[], sources: &[], since: u64::MAX };
}

impl WgpuContext {
    fn lock_batch(&self) -> MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a copy of `x`'s first `texels` vec4s into `texture`, `row_texels` to a texture row
    /// (its width, or fewer: the rest of each row is padding), and makes it `x`'s texture copy (the
    /// one it had is dropped). The slot is set under the batch lock, as a failed flush clears it.
    pub fn copy_to_texture(&self, x: &WgpuStorage, texture: &wgpu::Texture, texels: u64, row_texels: u64) {
        let mut batch = self.lock_batch();
        let (src, dst) = (x.buffer.clone(), texture.clone());
        batch.commands.push(Command::CopyToTexture { src, dst, texels, row_texels });
        drop(x.buffer.texture_copy.lock().unwrap_or_else(|p| p.into_inner()).replace(texture.clone()));
    }

    /// Runs `record`, which records the dispatches of one op that writes its output in several
    /// (a `cat` part by part), with no flush between them: a batch that failed after an earlier one
    /// had written part of the output would leave the output unmarked (`forget_failed_batch`).
    pub fn record_together<T>(&self, record: impl FnOnce() -> Result<T>) -> Result<T> {
        self.lock_batch().together += 1;
        let out = record();
        self.lock_batch().together -= 1;
        out
    }

    /// Records one dispatch of `kernel` with `params` at binding 0 and the storages at the given
    /// bindings (each bound over its own length).
    pub fn dispatch<P: bytemuck::Pod>(
        &self,
        kernel: &Kernel,
        params: &P,
        bindings: &[(u32, &WgpuStorage)],
        groups: [u32; 3],
    ) -> Result<()> {
        self.dispatch_with_textures(kernel, params, bindings, TextureReads::NONE, groups)
    }

    /// How many batches the device has refused so far. An op that reads texture copies notes it
    /// before it stages them (`TextureReads::since`).
    pub fn failed_batches(&self) -> u64 {
        self.failed_batches.load(Ordering::Relaxed)
    }

    /// `dispatch`, with the texture views of `reads` bound too.
    pub fn dispatch_with_textures<P: bytemuck::Pod>(
        &self,
        kernel: &Kernel,
        params: &P,
        bindings: &[(u32, &WgpuStorage)],
        reads: TextureReads<'_>,
        groups: [u32; 3],
    ) -> Result<()> {
        let TextureReads { views: textures, sources, since } = reads;
        if groups.contains(&0) {
            return Ok(());
        }
        self.check_not_lost()?;
        let pipeline = self.pipelines.get(&self.device, kernel)?;
        // Whole vec4s, one at least (kernels bind tensors as `array<vec4<f32>>`); pooled buffers are
        // multiples of 16 bytes.
        let buffers = bindings
            .iter()
            .map(|&(slot, s)| {
                let bytes = (s.len as u64 * 4).next_multiple_of(16).max(16);
                (slot, s.buffer.clone(), bytes.min(s.buffer.buffer().size()))
            })
            .collect();
        let mut batch = self.lock_batch();
        // Submitted before a dispatch is recorded rather than after: by then the ops recorded before
        // have returned, so a statement's dropped intermediates can be fused (`fuse_epilogues`);
        // and not while the last dispatch may be fused with this one (a product, then its sum).
        let full = batch.dispatches >= FLUSH_EVERY && (batch.dispatches >= 2 * FLUSH_EVERY || !batch.ends_in_fusable());
        if full && batch.together == 0 {
            // If that batch failed, this op may read what it should have written (its inputs, or
            // the texture copies recorded for it): it fails too.
            self.flush(&mut batch)?;
        }
        // Checked under the lock, after the flush: a failed flush, here or on another thread,
        // marks what it was to write.
        for s in bindings.iter().map(|&(_, s)| s).chain(sources.iter().copied()) {
            refuse_failed(kernel.entry, &s.buffer)?;
            // A batch refused since the op staged its inputs (a flush on another thread, between
            // its copies and this dispatch) held a copy of this input or a kernel reading one: the
            // texture this dispatch would read was never written.
            if s.buffer.copy_lost_at.load(Ordering::Relaxed) > since {
                let why = "a batch of GPU work that was to copy an input into a texture failed";
                return Err(Error::Device(format!("{}: {why}", kernel.entry)));
            }
        }
        let align = u64::from(self.limits.min_uniform_buffer_offset_alignment).max(16) as usize;
        let offset = batch.params.len().next_multiple_of(align);
        let bytes = bytemuck::bytes_of(params);
        batch.params.resize(offset, 0);
        batch.params.extend_from_slice(bytes);
        batch.commands.push(Command::Dispatch {
            kernel: kernel.clone(),
            pipeline,
            params: (offset as u64, bytes.len() as u64),
            bindings: buffers,
            textures: textures.iter().map(|&(slot, view)| (slot, view.clone())).collect(),
            sources: sources.iter().map(|s| s.buffer.clone()).collect(),
            groups,
        });
        batch.dispatches += 1;
        Ok(())
    }

    /// Records an upload of `data` into `dst` through a fresh mapped staging buffer.
    pub fn upload(&self, dst: &WgpuStorage, data: &[f32]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::size_of_val(data) as u64;
        let staging = checked_create(
            &self.device,
            || format!("upload: a staging buffer of {bytes} bytes"),
            || {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("soma upload"),
                    size: bytes,
                    usage: wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: true,
                })
            },
        )?;
        staging
            .slice(..)
            .get_mapped_range_mut()
            .map_err(|e| Error::Device(format!("upload: {e}")))?
            .copy_from_slice(bytemuck::cast_slice(data));
        staging.unmap();
        let mut batch = self.lock_batch();
        batch.commands.push(Command::Upload { staging, dst: dst.buffer.clone(), bytes });
        batch.upload_bytes += bytes;
        if batch.upload_bytes >= FLUSH_UPLOAD_BYTES {
            self.flush(&mut batch)?;
        }
        Ok(())
    }

    /// Submits everything recorded so far, copies `x` to a staging buffer and waits for it.
    pub fn read(&self, x: &WgpuStorage) -> Result<Vec<f32>> {
        if x.len == 0 {
            self.synchronize()?;
            return Ok(Vec::new());
        }
        self.check_not_lost()?;
        // Computed by a batch that failed: refused, not read as whatever its buffer holds.
        refuse_failed("to_vec", &x.buffer)?;
        let bytes = x.len as u64 * 4;
        let size = self.pool.bucket(bytes);
        let staging = {
            let mut batch = self.lock_batch();
            let staging = match batch.staging.get_mut(&size).and_then(Vec::pop) {
                Some(staging) => staging,
                None => checked_create(
                    &self.device,
                    || format!("to_vec: a readback buffer of {size} bytes"),
                    || {
                        self.device.create_buffer(&wgpu::BufferDescriptor {
                            label: Some("soma readback"),
                            size,
                            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                            mapped_at_creation: false,
                        })
                    },
                )?,
            };
            batch.commands.push(Command::Readback { src: x.buffer.clone(), staging: staging.clone(), bytes });
            // The readback's batch failed: what the staging buffer holds is stale.
            self.flush(&mut batch)?;
            staging
        };
        let slice = staging.slice(..bytes);
        let (tx, rx) = futures_intrusive::channel::shared::oneshot_channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        match pollster::block_on(rx.receive()) {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                self.take_error()?;
                return Err(Error::Device(format!("readback failed: {e}")));
            }
            None => return Err(Error::Device("readback was cancelled".into())),
        }
        let out = {
            let view = slice.get_mapped_range().map_err(|e| Error::Device(format!("readback: {e}")))?;
            bytemuck::cast_slice::<u8, f32>(&view).to_vec()
        };
        staging.unmap();
        let mut batch = self.lock_batch();
        let free = batch.staging.entry(size).or_default();
        if free.len() < STAGING_PER_BUCKET {
            free.push(staging);
        }
        drop(batch);
        self.take_error()?;
        Ok(out)
    }

    /// Submits pending work, waits for the device to finish it, and reports any device error.
    pub fn synchronize(&self) -> Result<()> {
        self.check_not_lost()?;
        self.flush(&mut self.lock_batch())?;
        self.wait()?;
        self.take_error()
    }

    fn wait(&self) -> Result<()> {
        // wgpu panics where the driver reports a lost device while polling; that is an error
        // here, like the other device errors.
        let poll = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let start = Instant::now();
            while start.elapsed() < SPIN_BEFORE_BLOCKING {
                match self.device.poll(wgpu::PollType::Poll) {
                    Ok(status) if status.is_queue_empty() => return Ok(status),
                    Ok(_) => std::thread::yield_now(),
                    Err(e) => return Err(e),
                }
            }
            self.device.poll(wgpu::PollType::wait_indefinitely())
        }));
        match poll {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Error::Device(e.to_string())),
            Err(panic) => {
                let why = panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied());
                Err(Error::Device(format!("waiting for the device failed: {}", why.unwrap_or("wgpu panicked"))))
            }
        }
    }

    /// Encodes the batch into one command encoder (consecutive dispatches share a compute pass)
    /// and submits it. A command the device refuses drops the whole submission: then every tensor
    /// the batch was to write is marked failed and the error returned (`forget_failed_batch`).
    fn flush(&self, batch: &mut Batch) -> Result<()> {
        if batch.commands.is_empty() {
            return Ok(());
        }
        // Fused first, outside the scopes: building a fused pipeline can fail without the batch failing.
        self.fuse_epilogues(&mut batch.commands);
        let scopes = [wgpu::ErrorFilter::OutOfMemory, wgpu::ErrorFilter::Validation, wgpu::ErrorFilter::Internal]
            .map(|filter| self.device.push_error_scope(filter));
        let unencoded = self.encode_and_submit(batch).err();
        // Every scope is popped, innermost first.
        let errors: Vec<wgpu::Error> =
            scopes.into_iter().rev().filter_map(|scope| pollster::block_on(scope.pop())).collect();
        let failure = errors.into_iter().next().map(|e| e.to_string()).or(unencoded);
        let result = match failure {
            Some(error) => Err(self.forget_failed_batch(&batch.commands, &error)),
            None => {
                for_each_buffer(&batch.commands, |b| b.submitted.store(true, Ordering::Relaxed));
                Ok(())
            }
        };
        batch.commands.clear();
        batch.params.clear();
        batch.dispatches = 0;
        batch.upload_bytes = 0;
        result
    }

    fn encode_and_submit(&self, batch: &Batch) -> std::result::Result<(), String> {
        // Made by hand rather than by `create_buffer_init`, which panics where the driver is out of
        // memory. Every dispatch's parameters are a multiple of 16 bytes at an aligned offset.
        let uniforms = match batch.params.len() as u64 {
            0 => None,
            size => {
                let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("soma params"),
                    size,
                    usage: wgpu::BufferUsages::UNIFORM,
                    mapped_at_creation: true,
                });
                buffer
                    .slice(..)
                    .get_mapped_range_mut()
                    .map_err(|e| format!("kernel parameters: {e}"))?
                    .copy_from_slice(&batch.params);
                buffer.unmap();
                Some(buffer)
            }
        };
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("soma") });
        let mut commands = batch.commands.iter().peekable();
        while let Some(command) = commands.next() {
            match command {
                Command::Dispatch { .. } => {
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
                    let mut next = Some(command);
                    while let Some(Command::Dispatch { pipeline, params, bindings, textures, groups, .. }) = next {
                        let uniforms = uniforms.as_ref().expect("dispatches have parameters");
                        let mut entries = vec![wgpu::BindGroupEntry {
                            binding: 0,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: uniforms,
                                offset: params.0,
                                size: NonZeroU64::new(params.1),
                            }),
                        }];
                        entries.extend(bindings.iter().map(|(slot, buffer, bytes)| wgpu::BindGroupEntry {
                            binding: *slot,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: buffer.buffer(),
                                offset: 0,
                                size: NonZeroU64::new(*bytes),
                            }),
                        }));
                        entries.extend(textures.iter().map(|(slot, view)| wgpu::BindGroupEntry {
                            binding: *slot,
                            resource: wgpu::BindingResource::TextureView(view),
                        }));
                        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                            label: None,
                            layout: &pipeline.get_bind_group_layout(0),
                            entries: &entries,
                        });
                        pass.set_pipeline(pipeline);
                        pass.set_bind_group(0, &bind_group, &[]);
                        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
                        next = commands.next_if(|c| matches!(c, Command::Dispatch { .. }));
                    }
                }
                Command::Upload { staging, dst, bytes } => {
                    encoder.copy_buffer_to_buffer(staging, 0, dst.buffer(), 0, *bytes);
                }
                Command::Readback { src, staging, bytes } => {
                    encoder.copy_buffer_to_buffer(src.buffer(), 0, staging, 0, *bytes);
                }
                Command::CopyToTexture { src, dst, texels, row_texels } => {
                    copy_to_texture(&mut encoder, src.buffer(), dst, *texels, *row_texels)
                }
            }
        }
        self.queue.submit([encoder.finish()]);
        Ok(())
    }
}

impl WgpuContext {
    /// After the device refused a batch: every tensor it was to write (those no earlier batch
    /// has: a tensor is written once, by the op that makes it) is marked failed, so reading it or
    /// computing from it is an error rather than stale data; tensors it only read stay valid. The
    /// texture copies it was to make are forgotten. Returns the error for the op that flushed.
    fn forget_failed_batch(&self, commands: &[Command], error: &str) -> Error {
        let why = format!("a batch of GPU work that was to write it failed: {error}");
        for_each_buffer(commands, |b| {
            if !b.submitted.load(Ordering::Relaxed) {
                let _ = b.failed.set(why.clone());
            }
        });
        let failures = self.failed_batches.fetch_add(1, Ordering::Relaxed) + 1;
        for command in commands {
            match command {
                Command::CopyToTexture { src, .. } => {
                    src.texture_copy.lock().unwrap_or_else(|p| p.into_inner()).take();
                    src.copy_lost_at.store(failures, Ordering::Relaxed);
                }
                // A kernel reading a tensor's copy into another texture (the matmul's packing).
                Command::Dispatch { sources, .. } => {
                    sources.iter().for_each(|s| s.copy_lost_at.store(failures, Ordering::Relaxed));
                }
                Command::Upload { .. } | Command::Readback { .. } => {}
            }
        }
        Error::Device(format!("a batch of GPU work failed: {error}"))
    }

    /// An error once the device is lost: nothing it holds or computes can be trusted.
    fn check_not_lost(&self) -> Result<()> {
        match self.lost.get() {
            Some(why) => Err(Error::Device(why.clone())),
            None => Ok(()),
        }
    }

    /// Fuses elementwise kernels whose intermediate result nothing else keeps (the tensor was
    /// dropped before the batch was submitted, as `(&a + &b)?.relu()` drops its sum): a product
    /// summed with another tensor becomes `mul_add`, and a ReLU of a sum or of `mul_add` becomes
    /// their `RELU` epilogue (`mul_add_relu`). One pass over memory instead of two or three, and
    /// no texture copy of the intermediate. Autograd keeps the intermediates it differentiates
    /// through, so training is unaffected.
    fn fuse_epilogues(&self, commands: &mut Vec<Command>) {
        let mut i = 0;
        while i + 1 < commands.len() {
            let rewrite = self.product_sum(&commands[i..]).or_else(|| self.relu_epilogue(&commands[i..]));
            if let Some((fused, consumed, intermediate)) = rewrite {
                // Copies of other tensors recorded in between (the fused kernel's other inputs)
                // stay, before it; the intermediate's copy goes.
                let replaced: Vec<Command> = commands.drain(i..i + consumed).collect();
                let mut kept: Vec<Command> = replaced
                    .into_iter()
                    .filter(|c| matches!(c, Command::CopyToTexture { src, .. } if !Arc::ptr_eq(src, &intermediate)))
                    .collect();
                let at = i + kept.len();
                kept.push(fused);
                commands.splice(i..i, kept);
                self.fused_epilogues.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // The fused kernel may start a pattern too (a product and sum, then a ReLU).
                i = at;
                continue;
            }
            i += 1;
        }
    }

    /// `binary_same` multiplying, then `binary_same` adding its product to another tensor: one
    /// `mul_add`, how many commands it replaces, and the product.
    fn product_sum(&self, commands: &[Command]) -> Option<(Command, usize, Arc<PooledBuffer>)> {
        let (product, at) = dropped_intermediate(commands)?;
        let (
            Command::Dispatch { kernel: mul, params, bindings, textures, sources, groups, .. },
            Command::Dispatch {
                kernel: add, bindings: add_bindings, textures: add_textures, sources: add_sources, ..
            },
        ) = (&commands[0], &commands[at])
        else {
            return None;
        };
        let staged = |k: &Kernel| k.constants.iter().find(|&&(n, _)| n == "STAGED").map(|&(_, v)| v);
        if !is_binary_same(mul, BinaryOp::Mul) || !is_binary_same(add, BinaryOp::Add) || staged(mul) != staged(add) {
            return None;
        }
        // The addend's slot in the sum (1 or 2), its texture copy's (5 or 6), and the sum's output.
        let (slot, addend, bytes) = add_bindings.iter().find(|(s, b, _)| *s != 3 && !Arc::ptr_eq(b, product))?;
        let out = add_bindings.iter().find(|&&(s, _, _)| s == 3)?;
        let addend_texture = add_textures.iter().find(|&&(s, _)| s == slot + 4)?;
        let mut kernel = Kernel::new(mul.shader, "mul_add");
        kernel.constants.extend(staged(mul).map(|v| ("STAGED", v)));
        let pipeline = self.pipelines.get(&self.device, &kernel).ok()?;
        let mut fused_bindings: Vec<_> = bindings.iter().filter(|&&(s, _, _)| s != 3).cloned().collect();
        fused_bindings.extend([(4, addend.clone(), *bytes), out.clone()]);
        let mut fused_textures = textures.clone();
        fused_textures.push((7, addend_texture.1.clone()));
        let fused = Command::Dispatch {
            kernel,
            pipeline,
            params: *params,
            bindings: fused_bindings,
            textures: fused_textures,
            sources: sources.iter().chain(add_sources).cloned().collect(),
            groups: *groups,
        };
        Some((fused, at + 1, product.clone()))
    }

    /// A sum (`binary_same` adding) or `mul_add`, then a ReLU of its result: the first with its
    /// ReLU epilogue writing the ReLU's output, how many commands it replaces, and the sum.
    fn relu_epilogue(&self, commands: &[Command]) -> Option<(Command, usize, Arc<PooledBuffer>)> {
        let (sum, at) = dropped_intermediate(commands)?;
        let Command::Dispatch { kernel, params, bindings, textures, sources, groups, .. } = &commands[0] else {
            return None;
        };
        let Command::Dispatch { kernel: relu_kernel, bindings: relu_bindings, .. } = &commands[at] else {
            return None;
        };
        let reads_sum = relu_bindings.iter().any(|(slot, b, _)| *slot == 1 && Arc::ptr_eq(b, sum));
        let (_, out, bytes) = relu_bindings.iter().find(|&&(slot, _, _)| slot == 2)?;
        if relu_kernel.entry != "unary_relu" || !reads_sum {
            return None;
        }
        let fused_kernel = if is_binary_same(kernel, BinaryOp::Add) {
            kernel.clone().with("RELU", 1.0)
        } else if kernel.entry == "mul_add" {
            Kernel { entry: "mul_add_relu", ..kernel.clone() }
        } else {
            return None;
        };
        let pipeline = self.pipelines.get(&self.device, &fused_kernel).ok()?;
        let bindings = bindings
            .iter()
            .map(|(slot, b, n)| if *slot == 3 { (3, out.clone(), *bytes) } else { (*slot, b.clone(), *n) })
            .collect();
        let fused = Command::Dispatch {
            kernel: fused_kernel,
            pipeline,
            params: *params,
            bindings,
            textures: textures.clone(),
            sources: sources.clone(),
            groups: *groups,
        };
        Some((fused, at + 1, sum.clone()))
    }
}

/// Whether `kernel` is `binary_same` computing `op`, without an epilogue.
fn is_binary_same(kernel: &Kernel, op: BinaryOp) -> bool {
    kernel.entry == "binary_same"
        && kernel.constants.iter().any(|&(n, v)| n == "OP" && v == f64::from(op.code()))
        && !kernel.constants.iter().any(|&(n, _)| n == "RELU")
}

/// The result of the dispatch `commands[0]` (its binding 3) where the next dispatch reads it once,
/// directly or through a texture copy among the copies recorded between them (a staged kernel's
/// inputs), and nothing but these commands holds it; with the reading dispatch's index.
fn dropped_intermediate(commands: &[Command]) -> Option<(&Arc<PooledBuffer>, usize)> {
    let Command::Dispatch { bindings, .. } = &commands[0] else {
        return None;
    };
    let (_, result, _) = bindings.iter().find(|&&(slot, _, _)| slot == 3)?;
    let at = 1 + commands[1..].iter().take_while(|c| matches!(c, Command::CopyToTexture { .. })).count();
    let copies = commands[1..at]
        .iter()
        .filter(|c| matches!(c, Command::CopyToTexture { src, .. } if Arc::ptr_eq(src, result)))
        .count();
    let Command::Dispatch { bindings: next, .. } = commands.get(at)? else {
        return None;
    };
    let reads = next.iter().filter(|(slot, b, _)| *slot != 3 && Arc::ptr_eq(b, result)).count();
    // Held by the producer, its copy and the reader, and by nothing else.
    (reads == 1 && copies <= 1 && Arc::strong_count(result) == 2 + copies).then_some((result, at))
}

/// Whole texture rows (`width` texels of the buffer each) in one copy, then the last, partial row: a
/// copy of whole rows past the end of the buffer would read out of bounds.
fn copy_to_texture(
    encoder: &mut wgpu::CommandEncoder,
    src: &wgpu::Buffer,
    dst: &wgpu::Texture,
    texels: u64,
    width: u64,
) {
    let (full_rows, rest) = (texels / width, texels % width);
    let copy = |encoder: &mut wgpu::CommandEncoder, row: u64, texels: u64, rows: u64| {
        encoder.copy_buffer_to_texture(
            wgpu::TexelCopyBufferInfo {
                buffer: src,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: row * width * 16,
                    bytes_per_row: Some((width * 16) as u32),
                    rows_per_image: None,
                },
            },
            wgpu::TexelCopyTextureInfo {
                texture: dst,
                mip_level: 0,
                origin: wgpu::Origin3d { x: 0, y: row as u32, z: 0 },
                aspect: wgpu::TextureAspect::All,
            },
            wgpu::Extent3d { width: texels as u32, height: rows as u32, depth_or_array_layers: 1 },
        );
    };
    if full_rows > 0 {
        copy(encoder, 0, width, full_rows);
    }
    if rest > 0 {
        copy(encoder, full_rows, rest, 1);
    }
}

/// An error naming `op` if `buffer` holds what a failed batch should have written.
fn refuse_failed(op: &str, buffer: &PooledBuffer) -> Result<()> {
    match buffer.failed.get() {
        Some(why) => Err(Error::Device(format!("{op}: an operand is not valid, {why}"))),
        None => Ok(()),
    }
}

/// Calls `f` on every buffer a command of `commands` binds, writes, reads or copies.
fn for_each_buffer(commands: &[Command], mut f: impl FnMut(&PooledBuffer)) {
    for command in commands {
        match command {
            Command::Dispatch { bindings, sources, .. } => {
                bindings.iter().for_each(|(_, b, _)| f(b));
                sources.iter().for_each(|b| f(b));
            }
            Command::Upload { dst, .. } => f(dst),
            Command::Readback { src, .. } | Command::CopyToTexture { src, .. } => f(src),
        }
    }
}
