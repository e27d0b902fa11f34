//! Naming rules: which Go package a symbol belongs to, and which C part a
//! non-Go symbol comes from. Every rule is a name rule a reader can check
//! against the symbol table; docs/size.md lists them.

/// The Go package of a Go symbol name, as Go's own tools split it: the
/// text up to the first `.` after the last `/`, ignoring generic type
/// arguments (`slices.Sort[...]`). Compiler-made `go:` and `type:` symbols
/// (Go 1.20+) belong to no package; neither does a name without a `.`
/// (assembly helpers such as `aeshashbody`).
pub fn package_of(name: &str) -> Option<&str> {
    if name.starts_with("go:") || name.starts_with("type:") || name.starts_with("go.") {
        return None;
    }
    // Generic instantiations put arbitrary names (with `/` and `.`) in brackets.
    let plain = match name.find('[') {
        Some(i) => &name[..i],
        None => name,
    };
    let path_end = plain.rfind('/').unwrap_or(0);
    let dot = plain[path_end..].find('.')?;
    let package = &name[..path_end + dot];
    (!package.is_empty()).then_some(package)
}

/// What a compiler-generated Go symbol is, for the runtime-overhead table.
pub fn go_metadata(name: &str) -> Option<&'static str> {
    if name.starts_with("type:") || name.starts_with("go:itab.") || name.starts_with("go.itab.") {
        Some("type descriptors and itabs (type:*, go:itab.*)")
    } else if name.starts_with("go:string.") || name.starts_with("go.string.") {
        Some("string literals (go:string.*)")
    } else if name.starts_with("go:func.") || name.starts_with("go.func.") {
        Some("function metadata (go:func.*)")
    } else if name.starts_with("go:") || name.starts_with("go.") {
        Some("other compiler data (go:*)")
    } else {
        None
    }
}

/// The C part a non-Go symbol belongs to. Aliases of one address take the
/// first part in this order that any of their names matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CPart {
    /// runtime/cgo's C side and the wrappers cgo generates.
    CgoGlue,
    /// Compiler builtins (zig's compiler-rt, libgcc).
    CompilerRt,
    /// malloc and friends: mimalloc, or the C library's allocator.
    Allocator,
    /// C functions a Go package calls by name (`C.f` → `_cgo_…_Cfunc_f`).
    CalledFromGo,
    /// Everything else: the C library and C code reached only from C.
    LibcAndOther,
}

impl CPart {
    pub fn label(self) -> &'static str {
        match self {
            CPart::CgoGlue => "cgo glue (runtime/cgo, _cgo_* wrappers)",
            CPart::CalledFromGo => "C functions called from Go (cgo objects)",
            CPart::CompilerRt => "compiler-rt / libgcc builtins",
            CPart::Allocator => "C allocator (malloc)",
            CPart::LibcAndOther => "C library and other C",
        }
    }
}

/// Compiler builtin name prefixes (compiler-rt's and libgcc's own names).
const BUILTIN_PREFIXES: &[&str] = &[
    "__aeabi_",
    "__atomic_",
    "__sync_",
    "__udiv",
    "__umod",
    "__div",
    "__mod",
    "__mul",
    "__ashl",
    "__ashr",
    "__lshr",
    "__fix",
    "__float",
    "__extend",
    "__trunc",
    "__clz",
    "__ctz",
    "__ffs",
    "__popcount",
    "__parity",
    "__bswap",
    "__cmp",
    "__ucmp",
    "__neg",
    "__add",
    "__sub",
    "__powi",
    "__comp",
    "__eq",
    "__ne",
    "__ge",
    "__gt",
    "__le",
    "__lt",
    "__unord",
    "__clear_cache",
    "__emutls",
    "__cpu_indicator",
    "__cpu_model",
    "__cpu_features",
    "__gcc_personality",
    "__enable_execute_stack",
    "__riscv_save",
    "__riscv_restore",
    "__mips16_",
];

/// The C allocator's entry points and its internals' prefixes (mimalloc;
/// musl's mallocng; glibc's when linked statically).
const ALLOCATOR_NAMES: &[&str] = &[
    "malloc",
    "free",
    "calloc",
    "realloc",
    "reallocarray",
    "aligned_alloc",
    "posix_memalign",
    "memalign",
    "valloc",
    "pvalloc",
    "malloc_usable_size",
];
const ALLOCATOR_PREFIXES: &[&str] = &[
    "mi_",
    "_mi_",
    "__mi_",
    "mimalloc",
    "__malloc_",
    "__libc_malloc",
    "__libc_free",
    "__libc_calloc",
    "__libc_realloc",
    "__libc_memalign",
    "_int_malloc",
    "_int_free",
    "_int_realloc",
    "_int_memalign",
    "__simple_malloc",
    // zig's own C library code (zig 0.15+ replaces musl's malloc with it)
    "c.malloc.",
];

/// The cgo wrapper markers that name the C function they call.
const CGO_CALL_MARKERS: &[&str] = &["_Cfunc_", "_C2func_"];

/// The C function a cgo wrapper symbol calls: `_cgo_0123abcd_Cfunc_puts` → `puts`.
pub fn cgo_callee(name: &str) -> Option<&str> {
    if !name.starts_with("_cgo_") {
        return None;
    }
    CGO_CALL_MARKERS.iter().find_map(|m| {
        let at = name.find(m)?;
        let callee = &name[at + m.len()..];
        // `_Cfunc__Cmalloc` is cgo's own helper, not a user's C function.
        (!callee.is_empty() && !callee.starts_with("_C")).then_some(callee)
    })
}

/// Classify one C symbol. `called_from_go` says whether a cgo wrapper names it.
pub fn c_part(name: &str, called_from_go: bool) -> CPart {
    // Versioned names (`memcpy@GLIBC_2.2.5`) are matched on the name part.
    let name = name.split('@').next().unwrap_or(name);
    if name.starts_with("_cgo_")
        || name.starts_with("x_cgo_")
        || name.starts_with("__cgo")
        || name.starts_with("_cgoexp_")
        || name.starts_with("crosscall")
        || name.starts_with("_crosscall")
    {
        CPart::CgoGlue
    } else if BUILTIN_PREFIXES.iter().any(|p| name.starts_with(p)) {
        CPart::CompilerRt
    } else if ALLOCATOR_NAMES.contains(&name)
        || ALLOCATOR_PREFIXES.iter().any(|p| name.starts_with(p))
    {
        CPart::Allocator
    } else if called_from_go {
        CPart::CalledFromGo
    } else {
        CPart::LibcAndOther
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_as_go_splits_them() {
        for (name, want) in [
            ("main.main", Some("main")),
            ("net/http.(*Server).Serve", Some("net/http")),
            (
                "vendor/golang.org/x/crypto/chacha20poly1305.chacha20Poly1305Seal.abi0",
                Some("vendor/golang.org/x/crypto/chacha20poly1305"),
            ),
            (
                "gopkg.in/yaml%2ev3.(*parser).parse",
                Some("gopkg.in/yaml%2ev3"),
            ),
            (
                "slices.Sort[go.shape.[]uint8,github.com/a/b.T]",
                Some("slices"),
            ),
            (
                "github.com/x/y.Map[go.shape.string].Get",
                Some("github.com/x/y"),
            ),
            ("type:*", None),
            ("go:itab.*bufio.Reader,io.Reader", None),
            ("aeshashbody", None),
        ] {
            assert_eq!(package_of(name), want, "{name}");
        }
    }

    #[test]
    fn c_parts_by_name() {
        assert_eq!(c_part("_cgo_3a1b_Cfunc_puts", false), CPart::CgoGlue);
        assert_eq!(c_part("x_cgo_init", false), CPart::CgoGlue);
        assert_eq!(c_part("crosscall2", false), CPart::CgoGlue);
        assert_eq!(c_part("__udivti3", false), CPart::CompilerRt);
        assert_eq!(c_part("__aeabi_uidivmod", false), CPart::CompilerRt);
        assert_eq!(c_part("mi_malloc_aligned", false), CPart::Allocator);
        assert_eq!(c_part("malloc", true), CPart::Allocator);
        assert_eq!(c_part("describe_libc", true), CPart::CalledFromGo);
        assert_eq!(c_part("__libc_start_main", false), CPart::LibcAndOther);
        assert_eq!(
            cgo_callee("_cgo_77133bf98b3a_Cfunc_getaddrinfo"),
            Some("getaddrinfo")
        );
        assert_eq!(
            cgo_callee("_cgo_77133bf98b3a_C2func_getnameinfo"),
            Some("getnameinfo")
        );
        assert_eq!(cgo_callee("_cgo_77133bf98b3a_Cfunc__Cmalloc"), None);
        assert_eq!(cgo_callee("_cgo_panic"), None);
    }
}
