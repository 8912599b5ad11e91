//! The process-wide wgpu context: adapter choice, device and queue, limits and error capture.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, OnceLock};

use super::WgpuStorage;
use super::batch::Batch;
use super::pipelines::Pipelines;
use super::pool::Pool;
use crate::{Error, Result};

/// The most elements a tensor may have on the GPU: kernels take lengths as `u32` and round them
/// up to whole vec4s.
const MAX_KERNEL_ELEMENTS: u32 = u32::MAX - 3;

/// Everything the backend shares: one per process, built on first use.
pub(crate) struct WgpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// The adapter's name and API, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan)`.
    pub name: String,
    pub limits: wgpu::Limits,
    /// A CPU-backed adapter with 8-wide subgroups (lavapipe): matmul uses the branch-free
    /// subgroup kernel there (`shaders/matmul_subgroup.wgsl`).
    pub cpu_subgroups: bool,
    pub pool: Arc<Pool>,
    pub pipelines: Pipelines,
    pub batch: Mutex<Batch>,
    /// A CPU-backed driver: read-heavy kernels take their inputs from textures (`staged.rs`).
    pub texture_reads: AtomicBool,
    /// The 1x1 texture bound in place of staged inputs where none are staged.
    pub texture_placeholder: OnceLock<wgpu::TextureView>,
    /// How many elementwise kernels were fused into the one before them (batch.rs `fuse_epilogues`).
    pub fused_epilogues: AtomicU64,
    /// Batches the device refused (`failed_batches()`), counted under the batch lock.
    pub(crate) failed_batches: AtomicU64,
    /// A 4-element buffer bound where a kernel's optional buffer is absent (the matmul's bias).
    pub buffer_placeholder: OnceLock<WgpuStorage>,
    /// The first error the device reported outside an error scope, until someone collects it.
    errors: Arc<Mutex<Option<String>>>,
    /// Why the device was lost, once it is: every later op and read is an error.
    pub lost: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for WgpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WgpuContext").field("name", &self.name).finish_non_exhaustive()
    }
}

static SHARED: OnceLock<std::result::Result<Arc<WgpuContext>, String>> = OnceLock::new();

impl WgpuContext {
    /// The shared context; a failure to open one is remembered and returned on every call.
    pub fn shared() -> Result<Arc<WgpuContext>> {
        SHARED.get_or_init(|| Self::open().map(Arc::new)).clone().map_err(Error::NoAdapter)
    }

    fn open() -> std::result::Result<WgpuContext, String> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle().with_env());
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all());
        let adapter = choose_adapter(pollster::block_on(instance.enumerate_adapters(backends)))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let features = adapter.features() & wgpu::Features::SUBGROUP;
        let cpu_subgroups = !features.is_empty()
            && info.device_type == wgpu::DeviceType::Cpu
            && info.subgroup_min_size == 8
            && info.subgroup_max_size == 8;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("soma"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| format!("{} ({:?}): {e}", info.name, info.backend))?;

        let errors = Arc::new(Mutex::new(None::<String>));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| e.to_string());
        }));
        let lost = Arc::new(OnceLock::new());
        let lost_slot = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            let _ = lost_slot.set(format!("the GPU device was lost ({reason:?}): {msg}"));
        });

        Ok(WgpuContext {
            pool: Arc::new(Pool::new(device.clone(), &limits)),
            pipelines: Pipelines::default(),
            batch: Mutex::new(Batch::default()),
            texture_reads: AtomicBool::new(info.device_type == wgpu::DeviceType::Cpu),
            texture_placeholder: OnceLock::new(),
            fused_epilogues: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
            buffer_placeholder: OnceLock::new(),
            name: format!("{} ({:?})", info.name, info.backend),
            device,
            queue,
            limits,
            cpu_subgroups,
            errors,
            lost,
        })
    }

    /// Returns (and clears) the first device error reported since the last call; once the device
    /// is lost, that, every time.
    pub fn take_error(&self) -> Result<()> {
        if let Some(why) = self.lost.get() {
            return Err(Error::Device(why.clone()));
        }
        match self.errors.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(Error::Device(e)),
            None => Ok(()),
        }
    }

    /// The largest tensor in bytes: a storage binding, and a buffer, must hold it.
    pub fn max_bytes(&self) -> (u64, &'static str) {
        let binding = self.limits.max_storage_buffer_binding_size;
        if self.limits.max_buffer_size < binding {
            (self.limits.max_buffer_size, "buffer size")
        } else {
            (binding, "storage binding")
        }
    }

    /// Checks that `elems` f32s, in whole vec4s as kernels bind them, fit in one storage binding;
    /// the error names the op and the sizes.
    pub fn check_len(&self, op: impl FnOnce() -> String, elems: usize) -> Result<()> {
        let (max, what) = self.max_bytes();
        let bytes = (elems as u128) * 4;
        if bytes.next_multiple_of(16) > u128::from(max / 16 * 16) {
            return Err(Error::limit(
                static_name(op()),
                format!("{bytes} bytes exceed the device's max {what} of {max}"),
            ));
        }
        // Kernels count elements (and whole vec4s, rounding up) in 32 bits.
        if elems as u128 > u128::from(MAX_KERNEL_ELEMENTS) {
            let msg = format!("{elems} elements exceed the {MAX_KERNEL_ELEMENTS} a kernel counts in 32 bits");
            return Err(Error::limit(static_name(op()), msg));
        }
        Ok(())
    }

    /// A grid of `groups` workgroups: 1-D up to the per-dimension limit, else 2-D (x * y >= groups;
    /// the kernels rebuild the linear id from both and bounds-check it).
    pub fn grid(&self, op: &str, groups: u64) -> Result<[u32; 3]> {
        let max = u64::from(self.limits.max_compute_workgroups_per_dimension);
        if groups <= max {
            return Ok([groups as u32, 1, 1]);
        }
        let y = groups.div_ceil(max);
        if y > max {
            return Err(Error::limit(
                static_name(op.to_string()),
                format!("{groups} workgroups exceed the device's {max} x {max} grid"),
            ));
        }
        Ok([groups.div_ceil(y) as u32, y as u32, 1])
    }
}

/// Runs `create` (making a buffer or texture) and returns what the driver refused, out of memory
/// above all, as an error naming `what`: the handle it returns then would fail every command that
/// uses it, and a pool would hand it out again.
pub(crate) fn checked_create<T>(
    device: &wgpu::Device,
    what: impl FnOnce() -> String,
    create: impl FnOnce() -> T,
) -> Result<T> {
    let out_of_memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let invalid = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let made = create();
    let invalid = pollster::block_on(invalid.pop());
    match pollster::block_on(out_of_memory.pop()).or(invalid) {
        Some(e) => Err(Error::Device(format!("{}: {e}", what()))),
        None => Ok(made),
    }
}

/// Prefers native APIs (Vulkan, Metal, DX12) over GL, then real GPUs over software ones;
/// `WGPU_ADAPTER_NAME` keeps only adapters whose name contains it (case-insensitive).
fn choose_adapter(mut adapters: Vec<wgpu::Adapter>) -> std::result::Result<wgpu::Adapter, String> {
    let found: Vec<String> = adapters.iter().map(|a| describe(&a.get_info())).collect();
    if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME") {
        let wanted = wanted.to_lowercase();
        adapters.retain(|a| a.get_info().name.to_lowercase().contains(&wanted));
        if adapters.is_empty() {
            return Err(format!("no adapter matches WGPU_ADAPTER_NAME={wanted:?} (found: {})", list(&found)));
        }
    }
    adapters.sort_by_key(|a| {
        let info = a.get_info();
        let api = match info.backend {
            wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
            wgpu::Backend::Gl => 1,
            _ => 2,
        };
        let kind = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Cpu => 3,
            wgpu::DeviceType::Other => 4,
        };
        (api, kind)
    });
    adapters.into_iter().next().ok_or_else(|| {
        "none found (on a machine without a GPU, install mesa-vulkan-drivers for lavapipe; \
         WGPU_BACKEND selects the APIs searched)"
            .to_string()
    })
}

fn describe(info: &wgpu::AdapterInfo) -> String {
    format!("{} ({:?})", info.name, info.backend)
}

fn list(names: &[String]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// Error ops are `&'static str`; names built at run time (`unary exp`) are interned once each.
pub(crate) fn static_name(name: String) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(&n) = names.iter().find(|&&n| n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.into_boxed_str());
    names.push(n);
    n
}
