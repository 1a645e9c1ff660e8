//! `fleetsim import` speed and an imported fleet's memory. Targets (issue 15): at least
//! 100,000 devices per second on one core to parse and intern an export, and a 1,000,000-device
//! imported fleet close to the generated fleet's memory per device.
//!
//! - `import/<format>`: reading a sample export of 100,000 devices held in memory (one JSON
//!   record per device, as `fleet_import::sample` writes it) into a fleet, as `fleetsim
//!   import` reads a file (mapped into memory): records parsed one at a time, ids and values
//!   interned, sorted by id. Throughput in devices.
//! - `import/iothub-twins-reader`: the same twins through `Importer::read`, the one-pass
//!   reader path (serde_json's reader takes one byte at a time).
//! - `import/fleet-file`: reading the fleet file `fleetsim import` writes for them, and
//!   building the fleet a scenario runs.
//! - memory (printed before the timings, not timed): 1,000,000 devices imported from a twin
//!   export generated on the fly (never held whole), against the generated fleet with the
//!   same templates, tags and reported property; [`fleet_sim::Fleet::heap_bytes`] and the live
//!   heap the counting allocator sees.
//!
//! Measured on the project's 2-core machine while other work ran (load average 6; criterion
//! medians, sample size 10): twins 240,000 devices/s, `devices.txt` 291,000/s, AWS
//! search-index 192,000/s, twins through the reader path 61,000/s, the fleet file 826,000/s.
//! 1,000,000 devices: generated fleet 6.0 bytes/device, imported 30.4 (the same columns, plus
//! 23.4 for the ids). `docs/import.md` discusses them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fleet_import::sample::{self, Export, SampleDevice};
use fleet_import::{FleetFile, Format, ImportOptions, Importer};
use fleet_sim::{Fleet, FleetSpec, TemplateSpec};

/// Counts the bytes allocated and not yet freed.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const DEVICES: u32 = 100_000;

/// A sample export of `devices` held in memory.
fn export(export: Export, devices: &[SampleDevice]) -> Vec<u8> {
    let mut out = Vec::new();
    sample::write(export, devices, 1, &mut out).expect("writes to memory");
    out
}

/// Imports `bytes` of `format`, as `fleetsim import` reads a (mapped) file.
fn import(bytes: &[u8], format: Format) -> fleet_import::ImportedFleet {
    let mut importer = Importer::new(ImportOptions::default());
    importer
        .read_bytes(Path::new("export"), bytes, format)
        .expect("the sample imports");
    importer.finish().expect("the sample is a fleet")
}

fn speed(c: &mut Criterion) {
    let model = sample::model(1, DEVICES);
    let mut group = c.benchmark_group("import");
    group.sample_size(10);
    group.throughput(Throughput::Elements(u64::from(DEVICES)));
    for (name, kind) in [
        ("iothub-twins", Export::HubTwins),
        ("iothub-export", Export::HubExport),
        ("aws-search-index", Export::AwsSearchIndex),
    ] {
        let bytes = export(kind, &model);
        let format = kind.format().expect("a device export");
        group.bench_with_input(BenchmarkId::new(name, DEVICES), &bytes, |b, bytes| {
            b.iter(|| import(std::hint::black_box(bytes), format).fleet.len())
        });
    }
    let twins = export(Export::HubTwins, &model);
    group.bench_with_input(
        BenchmarkId::new("iothub-twins-reader", DEVICES),
        &twins,
        |b, bytes| {
            b.iter(|| {
                let mut importer = Importer::new(ImportOptions::default());
                importer
                    .read(Path::new("export"), bytes.as_slice(), Format::HubTwins)
                    .expect("the sample imports");
                importer.finish().expect("a fleet").fleet.len()
            })
        },
    );
    let mut fleet_file = Vec::new();
    import(&twins, Format::HubTwins)
        .write(&mut fleet_file)
        .expect("writes to memory");
    group.bench_with_input(
        BenchmarkId::new("fleet-file", DEVICES),
        &fleet_file,
        |b, text| {
            b.iter(|| {
                let file = FleetFile::from_reader(Path::new("fleet.jsonl"), text.as_slice())
                    .expect("reads");
                let templates = templates(&file.header.templates);
                file.build(&templates).expect("builds").len()
            })
        },
    );
    group.finish();
}

fn templates(ids: &[String]) -> Vec<TemplateSpec> {
    ids.iter()
        .map(|id| TemplateSpec {
            id: id.clone(),
            ..Default::default()
        })
        .collect()
}

/// A twin export of `n` devices written as it is read: never held whole.
struct GeneratedTwins {
    devices: Box<dyn Iterator<Item = SampleDevice>>,
    left: u32,
    started: bool,
    buffer: Vec<u8>,
    at: usize,
}

impl Read for GeneratedTwins {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buffer.len() {
            self.buffer.clear();
            self.at = 0;
            match (self.left, self.devices.next()) {
                (0, _) | (_, None) => return Ok(0),
                (_, Some(d)) => {
                    self.buffer.push(if self.started { b',' } else { b'[' });
                    self.started = true;
                    serde_json::to_writer(&mut self.buffer, &sample::record(Export::HubTwins, &d))?;
                    self.left -= 1;
                    if self.left == 0 {
                        self.buffer.push(b']');
                    }
                }
            }
        }
        let n = out.len().min(self.buffer.len() - self.at);
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

const DEVICES_1M: u32 = 1_000_000;

/// The generated fleet with the sample's templates, tags and reported property.
fn generated(n: u32) -> Fleet {
    let spec: FleetSpec = serde_json::from_value(serde_json::json!({
        "devices": n,
        "id_pattern": "dev-{:07}",
        "templates": [
            {"template": "dtmi:contoso:Thermostat;1", "share": 6},
            {"template": "dtmi:contoso:Sensor;1", "share": 3},
            {"template": "dtmi:contoso:Gateway;1", "share": 1}
        ],
        "tags": [
            {"name": "region", "values": [{"value": "eu"}, {"value": "us"}, {"value": "asia"}]},
            {"name": "ring", "values": [{"value": 0}, {"value": 1}, {"value": 2}, {"value": 3}]}
        ],
        "reported": [
            {"name": "firmware", "values": [{"value": "1.1"}, {"value": "1.2"}, {"value": "1.3"}]}
        ]
    }))
    .expect("a valid spec");
    let ids = [
        "dtmi:contoso:Thermostat;1",
        "dtmi:contoso:Sensor;1",
        "dtmi:contoso:Gateway;1",
    ];
    let templates = templates(&ids.map(String::from));
    Fleet::generate(&spec, &templates, 1).expect("generates")
}

/// Prints bytes per device of a 1,000,000-device imported fleet and of the generated one.
fn memory(_: &mut Criterion) {
    let n = DEVICES_1M;
    let before = LIVE.load(Ordering::Relaxed);
    let fleet = generated(n);
    let generated_live = LIVE.load(Ordering::Relaxed) - before;
    let generated_heap = fleet.heap_bytes();
    drop(fleet);
    let reader = GeneratedTwins {
        devices: Box::new(sample::devices(1)),
        left: n,
        started: false,
        buffer: Vec::new(),
        at: 0,
    };
    let before = LIVE.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    let mut importer = Importer::new(ImportOptions::default());
    importer
        .read(Path::new("generated"), reader, Format::HubTwins)
        .expect("imports");
    // The fleet alone: the import's side data (display names, last activity) is dropped.
    let fleet = importer.finish().expect("a fleet").fleet;
    let took = started.elapsed().as_secs_f64();
    let imported_live = LIVE.load(Ordering::Relaxed) - before;
    let per = |bytes: usize| bytes as f64 / f64::from(n);
    eprintln!(
        "memory, {n} devices: generated fleet {:.1} bytes/device (heap_bytes), {:.1} live; \
         imported fleet {:.1} bytes/device (heap_bytes), {:.1} live, of which {:.1} for the ids \
         (text, end offset, stream key); import of the generated twin export through a reader took \
         {took:.2} s ({:.0} devices/s, generation included)",
        per(generated_heap),
        per(generated_live),
        per(fleet.heap_bytes()),
        per(imported_live),
        per((0..fleet.len())
            .map(|i| fleet.id(i).to_string().len() + 12)
            .sum()),
        f64::from(n) / took,
    );
}

criterion_group!(benches, memory, speed);
criterion_main!(benches);
