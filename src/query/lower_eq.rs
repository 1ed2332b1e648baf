//! `lower(x) = 'text'` evaluated without lower-casing `x`.
//!
//! Why: every case-insensitive comparison a search makes is `lower(column) = 'value'` (the
//! SQL the user sees stays that). Lower-casing a whole column to compare it with one value
//! writes a new string per row; comparing in place reads a length from each string view and
//! rejects most rows on it, then folds ASCII bytes as it compares the rest. The optimizer rule
//! [`FuseLowerEq`] rewrites the comparison in filters into the function [`LowerEquals`], which
//! gives exactly the answer of DataFusion's `lower` (Rust's `str::to_lowercase`) followed by `=`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, ByteView, StringViewArray};
use datafusion::arrow::buffer::{BooleanBuffer, Buffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::lower::ViewLower;

/// `lower_equals(x, 'text')`: `lower(x) = 'text'`, null where `x` is null.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LowerEquals {
    signature: Signature,
}

impl LowerEquals {
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(LowerEquals {
            // Built by the rule after type coercion, from a string and a string literal.
            signature: Signature::any(2, Volatility::Immutable),
        }))
    }
}

impl ScalarUDFImpl for LowerEquals {
    fn name(&self) -> &str {
        "lower_equals"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value, target] = args.args.as_slice() else {
            return exec_err!("lower_equals takes a string and a literal");
        };
        let Some(target) = string_literal(target) else {
            return exec_err!("lower_equals compares with a string literal");
        };
        let target = Target::new(&target);
        match value {
            ColumnarValue::Array(array) => Ok(ColumnarValue::Array(Arc::new(target.eval(array)?))),
            ColumnarValue::Scalar(s) => {
                let array = s.to_array()?;
                let out = target.eval(&array)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
            }
        }
    }
}

fn string_literal(v: &ColumnarValue) -> Option<String> {
    match v {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
        ) => Some(s.clone()),
        _ => None,
    }
}

/// The text compared with, and whether the ASCII shortcuts apply to it.
struct Target<'a> {
    text: &'a str,
    ascii: bool,
}

impl<'a> Target<'a> {
    fn new(text: &'a str) -> Target<'a> {
        Target {
            text,
            ascii: text.is_ascii(),
        }
    }

    /// `lower(value) == text`. For an ASCII target: a non-ASCII byte never folds to an ASCII
    /// one, and the only non-ASCII character that lower-cases to ASCII is U+212A KELVIN SIGN
    /// (three bytes to one 'k'), so a value of another length can only match if it is that
    /// many Kelvin signs longer; those few go through `to_lowercase`.
    fn matches(&self, value: &[u8]) -> bool {
        let t = self.text.as_bytes();
        if self.ascii {
            if value.len() == t.len() {
                return folds_to(value, t);
            }
            if value.len() < t.len()
                || !(value.len() - t.len()).is_multiple_of(2)
                || value.is_ascii()
            {
                return false;
            }
        }
        std::str::from_utf8(value).is_ok_and(|v| v.to_lowercase() == self.text)
    }

    fn eval(&self, array: &ArrayRef) -> Result<BooleanArray> {
        let nulls = array.logical_nulls();
        let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
        let bits = match array.data_type() {
            DataType::Utf8View if self.ascii => {
                self.eval_views_ascii(array.as_string_view(), &valid)
            }
            DataType::Utf8View => {
                let a = array.as_string_view();
                BooleanBuffer::collect_bool(a.len(), |i| {
                    valid(i) && self.matches(a.value(i).as_bytes())
                })
            }
            DataType::Utf8 => {
                let a = array.as_string::<i32>();
                BooleanBuffer::collect_bool(a.len(), |i| {
                    valid(i) && self.matches(a.value(i).as_bytes())
                })
            }
            DataType::LargeUtf8 => {
                let a = array.as_string::<i64>();
                BooleanBuffer::collect_bool(a.len(), |i| {
                    valid(i) && self.matches(a.value(i).as_bytes())
                })
            }
            // Dictionaries and anything else `lower` accepted: as plain strings.
            _ => return self.eval(&cast(array, &DataType::Utf8)?),
        };
        Ok(BooleanArray::new(bits, nulls))
    }

    /// The common case, kept to a few word operations a row on the view alone: most rows
    /// differ in length, and a short value is compared inside its view. Only a long value of
    /// the target's length, or one a Kelvin sign could make match, is read from its buffer
    /// (out of line, and only for valid rows: a null row's view may point anywhere).
    fn eval_views_ascii(
        &self,
        a: &StringViewArray,
        valid: &impl Fn(usize) -> bool,
    ) -> BooleanBuffer {
        let t = self.text.as_bytes();
        let short = (t.len() <= 12).then(|| (inline_view(t), inline_mask(t.len())));
        let buffers = a.data_buffers();
        // Small buffers (a dictionary page's values) are checked for ASCII once for all their
        // values; values in large ones one by one, when it comes to that.
        let small = buffers.iter().map(|b| b.len()).sum::<usize>() <= SMALL_BUFFERS;
        let ascii_buffers = small && buffers.iter().all(|b| b.is_ascii());
        let views = a.views();
        let mut words = vec![0u64; views.len().div_ceil(64)];
        for (i, &raw) in views.iter().enumerate() {
            let hit = match quick_match(raw, t.len(), short, ascii_buffers) {
                Quick::Yes => true,
                Quick::No => false,
                Quick::Read => valid(i) && self.read_match(raw, buffers),
            };
            words[i / 64] |= (hit as u64) << (i % 64);
        }
        BooleanBuffer::new(Buffer::from_vec(words), 0, views.len())
    }

    /// The rows [`quick_match`] could not settle from the view.
    #[cold]
    fn read_match(&self, raw: u128, buffers: &[Buffer]) -> bool {
        let t = self.text.as_bytes();
        let len = raw as u32 as usize;
        let bytes = raw.to_le_bytes();
        let value = if len <= 12 {
            &bytes[4..4 + len]
        } else {
            let v = ByteView::from(raw);
            let start = v.offset as usize;
            &buffers[v.buffer_index as usize][start..start + len]
        };
        if len == t.len() {
            // A long value: its first four bytes (in the view) settle most.
            return lower_ascii((raw >> 32) as u32 as u128) as u32
                == u32::from_le_bytes(t[..4].try_into().expect("long target"))
                && folds_to(value, t);
        }
        // Longer by an even count and maybe not ASCII: only a Kelvin sign (three bytes to
        // one) can make it match.
        !value.is_ascii() && self.matches(value)
    }
}

/// What a view alone says about `lower(value) == target` for an ASCII target.
enum Quick {
    Yes,
    No,
    /// The value must be read: a long one of the target's length, or a longer one.
    Read,
}

/// `short` is the target's own view and mask when it is short enough to be inline;
/// `ascii_buffers` says every value stored out of line is ASCII.
#[inline(always)]
fn quick_match(
    raw: u128,
    target_len: usize,
    short: Option<(u128, u128)>,
    ascii_buffers: bool,
) -> Quick {
    let len = raw as u32 as usize;
    if len == target_len {
        return match short {
            Some((view, mask)) if lower_ascii(raw) & mask == view => Quick::Yes,
            Some(_) => Quick::No,
            None => Quick::Read,
        };
    }
    // Shorter, or longer by an odd count: no Kelvin sign can make up the difference.
    if len < target_len || !(len - target_len).is_multiple_of(2) {
        return Quick::No;
    }
    let ascii = match len <= 12 {
        true => (raw >> 32) & HIGH_BITS == 0,
        false => ascii_buffers,
    };
    match ascii {
        true => Quick::No,
        false => Quick::Read,
    }
}

/// Bytes of view buffers checked for ASCII once per array rather than value by value.
const SMALL_BUFFERS: usize = 64 << 10;

/// The high bit of each of a short view's twelve data bytes (after its length is shifted out).
const HIGH_BITS: u128 = 0x8080_8080_8080_8080_8080_8080;

/// The view Arrow makes for a short value: its length, then its bytes, zero-padded.
fn inline_view(bytes: &[u8]) -> u128 {
    let mut view = [0u8; 16];
    view[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    view[4..4 + bytes.len()].copy_from_slice(bytes);
    u128::from_le_bytes(view)
}

/// The bits of a short view that hold its length and its `len` bytes.
fn inline_mask(len: usize) -> u128 {
    u128::MAX >> (8 * (12 - len))
}

/// Every byte of `x` in `A..=Z` lower-cased, all others (and the view's small length bytes)
/// unchanged: sixteen bytes at once, without carries between bytes.
fn lower_ascii(x: u128) -> u128 {
    const ONES: u128 = u128::MAX / 0xff;
    let low7 = x & (0x7f * ONES);
    let from_a = low7 + (0x3f * ONES); // high bit set where the byte is >= 'A'
    let past_z = low7 + (0x25 * ONES); // high bit set where the byte is > 'Z'
    let upper = from_a & !past_z & !x & (0x80 * ONES);
    x | (upper >> 2)
}

/// ASCII-lower-cased `value` equals `target` (whose bytes are ASCII).
fn folds_to(value: &[u8], target: &[u8]) -> bool {
    if value.len() != target.len() {
        return false;
    }
    let mut v = value.chunks_exact(16);
    let mut t = target.chunks_exact(16);
    for (a, b) in v.by_ref().zip(t.by_ref()) {
        let a = u128::from_le_bytes(a.try_into().unwrap());
        if lower_ascii(a) != u128::from_le_bytes(b.try_into().unwrap()) {
            return false;
        }
    }
    v.remainder()
        .iter()
        .zip(t.remainder())
        .all(|(a, b)| a.to_ascii_lowercase() == *b)
}

/// Rewrites `lower(x) = 'text'` (either side, and `<>`) in filters and scan filters into
/// `lower_equals(x, 'text')`. Only our registered `lower` ([`ViewLower`]) is matched, so the
/// meaning is the one [`LowerEquals`] reproduces; projections are left alone (their column
/// names would change).
#[derive(Debug)]
pub struct FuseLowerEq {
    udf: Arc<ScalarUDF>,
}

impl Default for FuseLowerEq {
    fn default() -> Self {
        FuseLowerEq {
            udf: LowerEquals::udf(),
        }
    }
}

impl FuseLowerEq {
    fn fuse(&self, e: Expr) -> Result<Transformed<Expr>> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &e else {
            return Ok(Transformed::no(e));
        };
        if !matches!(op, Operator::Eq | Operator::NotEq) {
            return Ok(Transformed::no(e));
        }
        let (value, text) = match (lowered(left), literal(right), lowered(right), literal(left)) {
            (Some(v), Some(t), _, _) | (_, _, Some(v), Some(t)) => (v, t),
            _ => return Ok(Transformed::no(e)),
        };
        let call = Expr::ScalarFunction(ScalarFunction::new_udf(
            self.udf.clone(),
            vec![value.clone(), text.clone()],
        ));
        Ok(Transformed::yes(match op {
            Operator::Eq => call,
            _ => Expr::Not(Box::new(call)),
        }))
    }
}

/// `x` of `lower(x)`, our `lower` only.
fn lowered(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::ScalarFunction(f) if f.func.inner().is::<ViewLower>() => match f.args.as_slice() {
            [x] => Some(x),
            _ => None,
        },
        _ => None,
    }
}

/// A non-null string literal.
fn literal(e: &Expr) -> Option<&Expr> {
    match e {
        Expr::Literal(
            ScalarValue::Utf8(Some(_))
            | ScalarValue::Utf8View(Some(_))
            | ScalarValue::LargeUtf8(Some(_)),
            _,
        ) => Some(e),
        _ => None,
    }
}

impl OptimizerRule for FuseLowerEq {
    fn name(&self) -> &str {
        "omslake_fuse_lower_eq"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        match plan {
            LogicalPlan::Filter(_) | LogicalPlan::TableScan(_) => {
                plan.map_expressions(|e| e.transform_up(|e| self.fuse(e)))
            }
            _ => Ok(Transformed::no(plan)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{LargeStringArray, StringArray, StringViewArray};

    fn expected(values: &[Option<&str>], target: &str) -> Vec<Option<bool>> {
        values
            .iter()
            .map(|v| v.map(|v| v.to_lowercase() == target))
            .collect()
    }

    fn check(values: &[Option<&str>], target: &str) {
        let want = expected(values, target);
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringViewArray::from(values.to_vec())),
            Arc::new(StringArray::from(values.to_vec())),
            Arc::new(LargeStringArray::from(values.to_vec())),
        ];
        for a in arrays {
            let got: Vec<Option<bool>> = Target::new(target).eval(&a).unwrap().iter().collect();
            assert_eq!(got, want, "{:?} against {target:?}", a.data_type());
        }
    }

    #[test]
    fn agrees_with_to_lowercase() {
        let values = [
            Some("Needed"),
            Some("NEEDED"),
            Some("needed"),
            Some("Need"),
            None,
            Some("Security Updates"),
            Some("SECURITY UPDATEZ"),
            Some("Xecurity Updates"),
            Some("security updates "),
            Some("\u{212A}B4012399"),
            Some("\u{212A}\u{212A}"),
            Some("Ångström"),
            Some("İstanbul"),
            Some(""),
        ];
        for target in [
            "needed",
            "Needed",
            "security updates",
            "kb4012399",
            "kk",
            "ångström",
            "i̇stanbul",
            "",
        ] {
            check(&values, target);
        }
    }

    #[test]
    fn word_lowering_matches_byte_lowering() {
        for b in 0..=255u8 {
            let word = u128::from_le_bytes([b; 16]);
            assert_eq!(
                lower_ascii(word),
                u128::from_le_bytes([b.to_ascii_lowercase(); 16]),
                "{b}"
            );
        }
        assert_eq!(inline_mask(12), u128::MAX);
        assert_eq!(inline_mask(0), u32::MAX as u128);
    }

    #[test]
    fn values_in_large_buffers_are_checked_one_by_one() {
        // Over SMALL_BUFFERS of long values, with a Kelvin sign in one of them.
        let mut values: Vec<String> = (0..5000)
            .map(|i| format!("srv{i:05}.contoso.com"))
            .collect();
        values.push("\u{212A}\u{212A}SRV00001.contoso.com".into());
        let refs: Vec<Option<&str>> = values.iter().map(|v| Some(v.as_str())).collect();
        let array = StringViewArray::from(refs.clone());
        assert!(array.data_buffers().iter().map(|b| b.len()).sum::<usize>() > SMALL_BUFFERS);
        for target in [
            "kksrv00001.contoso.com",
            "srv00001.contoso.com",
            "srv04999.contoso.com",
        ] {
            let got: Vec<Option<bool>> = Target::new(target)
                .eval(&(Arc::new(array.clone()) as ArrayRef))
                .unwrap()
                .iter()
                .collect();
            assert_eq!(got, expected(&refs, target), "{target}");
        }
    }

    /// The shortcut for ASCII targets rests on this fact about Unicode's lower-case mapping.
    #[test]
    fn only_the_kelvin_sign_lowercases_into_ascii() {
        let into_ascii: Vec<char> = (0..=char::MAX as u32)
            .filter_map(char::from_u32)
            .filter(|c| !c.is_ascii() && c.to_lowercase().all(|l| l.is_ascii()))
            .collect();
        assert_eq!(into_ascii, vec!['\u{212A}']);
    }

    proptest::proptest! {
        #[test]
        fn any_strings_compare_as_lower_then_equal(
            values in proptest::collection::vec(
                proptest::option::of("[a-cA-C\u{212A}İé ]{0,16}"), 0..30),
            target in "[a-ck\u{212A}é ]{0,16}",
        ) {
            let refs: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
            let want = expected(&refs, &target);
            let a: ArrayRef = Arc::new(StringViewArray::from(refs));
            let got: Vec<Option<bool>> = Target::new(&target).eval(&a).unwrap().iter().collect();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
