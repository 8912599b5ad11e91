//! Every .wgsl kernel parses and validates with naga (no GPU needed).

use std::path::Path;

#[test]
fn every_shader_parses_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shaders");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the shaders directory exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
        .collect();
    files.sort();
    let expected = [
        "binary",
        "cells",
        "conv",
        "layout",
        "matmul",
        "matmul_subgroup",
        "matmul_texture",
        "optim",
        "random",
        "reduce",
        "softmax",
        "unary",
    ];
    for name in expected {
        assert!(files.iter().any(|f| f.file_stem().unwrap() == name), "shaders/{name}.wgsl is missing");
    }
    // As the pipelines compile them: with the shared functions in front.
    let common = common_source(&dir);
    for path in &files {
        let source = common.clone() + &std::fs::read_to_string(path).unwrap();
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default() | naga::valid::Capabilities::SUBGROUP,
        );
        if let Err(e) = validator.validate(&module) {
            panic!("{}: {}", path.display(), e.emit_to_string(&source));
        }
        assert!(!module.entry_points.is_empty(), "{} has no entry point", path.display());
    }
}

#[test]
fn every_unary_op_has_its_entry_point() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shaders");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let source = common_source(&dir) + &read("unary.wgsl");
    let module = naga::front::wgsl::parse_str(&source).unwrap();
    for op in soma_device::UnaryOp::ALL {
        assert!(
            module.entry_points.iter().any(|e| e.name == op.entry_point()),
            "unary.wgsl lacks {}",
            op.entry_point()
        );
    }
}

/// The files of `shaders/common/` in the order pipelines.rs puts them in front of every shader.
fn common_source(dir: &Path) -> String {
    ["activations.wgsl", "access.wgsl"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join("common").join(f)).unwrap())
        .collect()
}
