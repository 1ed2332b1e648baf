//! `lower()` for string views that leaves values already in lower case where they are.
//!
//! Why: every case-insensitive comparison a search makes is `lower(column) = 'value'`, and
//! string columns are read as views (decoding a dictionary page then copies no string bytes).
//! DataFusion's own `lower` copies every value longer than 12 bytes into a new buffer, which
//! made the view reads slower than plain strings for the searches that filter. Here a value with
//! no upper-case letter keeps its view into the page it was read from; only values that change
//! are written, and short ones stay inline. Any non-ASCII value sends the whole array to
//! DataFusion's `lower`, whose Unicode rules are the definition this must match.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, ByteView, StringViewArray};
use datafusion::arrow::buffer::{Buffer, ScalarBuffer};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::functions::string::lower::LowerFunc;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

/// Registered under the name `lower`, in place of DataFusion's, which it calls for everything
/// but string-view arrays it can lower byte by byte.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct ViewLower {
    inner: LowerFunc,
}

impl ViewLower {
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(ViewLower::default())
    }
}

impl ScalarUDFImpl for ViewLower {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if let [ColumnarValue::Array(array)] = args.args.as_slice() {
            if let Some(views) = array.as_string_view_opt() {
                if let Some(lowered) = lower_ascii_views(views) {
                    return Ok(ColumnarValue::Array(Arc::new(lowered)));
                }
            }
        }
        self.inner.invoke_with_args(args)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// The array lower-cased, or `None` if a value is not ASCII (or too much changes to address).
/// The result shares the input's buffers and adds at most one for the values that changed.
pub fn lower_ascii_views(array: &StringViewArray) -> Option<StringViewArray> {
    let buffers = array.data_buffers();
    let added_index = u32::try_from(buffers.len()).ok()?;
    let nulls = array.nulls();
    let mut views = Vec::with_capacity(array.len());
    let mut added: Vec<u8> = Vec::new();
    for (i, &raw) in array.views().iter().enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            views.push(0);
            continue;
        }
        let len = raw as u32 as usize;
        if len <= 12 {
            let mut bytes = raw.to_le_bytes();
            let value = &mut bytes[4..4 + len];
            if !value.is_ascii() {
                return None;
            }
            value.make_ascii_lowercase();
            views.push(u128::from_le_bytes(bytes));
            continue;
        }
        let view = ByteView::from(raw);
        let start = view.offset as usize;
        let value = &buffers[view.buffer_index as usize][start..start + len];
        if !value.is_ascii() {
            return None;
        }
        if !value.iter().any(u8::is_ascii_uppercase) {
            views.push(raw);
            continue;
        }
        let offset = u32::try_from(added.len()).ok()?;
        added.extend_from_slice(value);
        added[offset as usize..].make_ascii_lowercase();
        let prefix = u32::from_le_bytes(added[offset as usize..][..4].try_into().ok()?);
        views.push(
            ByteView {
                length: len as u32,
                prefix,
                buffer_index: added_index,
                offset,
            }
            .as_u128(),
        );
    }
    let mut out_buffers = buffers.to_vec();
    if !added.is_empty() {
        out_buffers.push(Buffer::from_vec(added));
    }
    // SAFETY: every view is the input's (valid) or describes ASCII bytes written above at the
    // offset, length and buffer it names, with their first four bytes as its prefix; ASCII is
    // valid UTF-8 and lowering it keeps each length. Null rows get the empty view.
    Some(unsafe {
        StringViewArray::new_unchecked(ScalarBuffer::from(views), out_buffers, nulls.cloned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::config::ConfigOptions;

    /// `f` applied to one string array, as DataFusion calls it.
    fn call(f: &dyn ScalarUDFImpl, input: ArrayRef) -> ArrayRef {
        let ty = input.data_type().clone();
        let args = ScalarFunctionArgs {
            number_rows: input.len(),
            args: vec![ColumnarValue::Array(input)],
            arg_fields: vec![Field::new("a", ty.clone(), true).into()],
            return_field: Field::new("r", ty, true).into(),
            config_options: Arc::new(ConfigOptions::default()),
        };
        match f.invoke_with_args(args).unwrap() {
            ColumnarValue::Array(out) => out,
            ColumnarValue::Scalar(_) => panic!("array in, array out"),
        }
    }

    fn strings(a: &StringViewArray) -> Vec<Option<String>> {
        a.iter().map(|v| v.map(str::to_string)).collect()
    }

    fn builtin_lower(values: &StringViewArray) -> Vec<Option<String>> {
        strings(call(&LowerFunc::new(), Arc::new(values.clone())).as_string_view())
    }

    #[test]
    fn matches_datafusion_lower_and_keeps_lower_case_values_in_place() {
        let input = StringViewArray::from(vec![
            Some("Needed"),
            None,
            Some("srv0001.contoso.com"),
            Some("Security Updates"),
            Some(""),
            Some("EXACTLY12CHR"),
            Some("THIRTEEN-CHRS"),
        ]);
        let out = lower_ascii_views(&input).expect("all ASCII");
        assert_eq!(strings(&out), builtin_lower(&input));
        assert!(out.is_null(1));
        // The already lower-case long value still points into the input's buffer.
        assert_eq!(out.views()[2], input.views()[2]);
        assert_eq!(out.data_buffers().len(), input.data_buffers().len() + 1);
        // Views stay valid for every kernel: a round trip through a checked constructor.
        StringViewArray::try_new(
            out.views().clone(),
            out.data_buffers().to_vec(),
            out.nulls().cloned(),
        )
        .expect("valid views");
    }

    #[test]
    fn non_ascii_values_go_to_datafusion_lower() {
        // U+212A KELVIN SIGN lowers to an ASCII 'k': only the Unicode rules get this right.
        let input = StringViewArray::from(vec!["ÅNGSTRÖM", "\u{212A}elvin"]);
        assert!(lower_ascii_views(&input).is_none());
        let out = call(&ViewLower::default(), Arc::new(input));
        assert_eq!(
            strings(out.as_string_view()),
            vec![Some("ångström".into()), Some("kelvin".into())]
        );
    }

    proptest::proptest! {
        #[test]
        fn any_ascii_array_lowers_as_datafusion_does(
            values in proptest::collection::vec(
                proptest::option::of("[a-zA-Z0-9 .-]{0,30}"), 0..40)
        ) {
            let input = StringViewArray::from_iter(values.iter().map(|v| v.as_deref()));
            let out = lower_ascii_views(&input).expect("all ASCII");
            proptest::prop_assert_eq!(strings(&out), builtin_lower(&input));
        }
    }

    #[test]
    fn plain_strings_are_lowered_by_datafusion() {
        let input = Arc::new(StringArray::from(vec!["ABC", "dÉf"]));
        let out = call(&ViewLower::default(), input);
        let out: Vec<_> = out.as_string::<i32>().iter().collect();
        assert_eq!(out, vec![Some("abc"), Some("déf")]);
    }
}
