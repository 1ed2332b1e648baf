//! `count(DISTINCT x) … GROUP BY g` over strings, without making `x` a second group key.
//!
//! Why: DataFusion plans a lone `count(DISTINCT x)` with groups as a group-by on `(g, x)`
//! and a count over that. With a string `x`, every row then hashes and compares two strings
//! in DataFusion's multi-column group table, most of the CPU of the search
//! `Type=Update | measure countdistinct(Computer) by Classification`. The optimizer rule
//! [`CountDistinctStrings`] hands such a count to [`DistinctCount`] instead, whose accumulator
//! is given the groups of `g` alone and keeps one table of the distinct strings, numbered, and
//! a bitmap of those numbers per group (q7's figures: bench/NOTES.md). The SQL and its column
//! names stay as written; `EXPLAIN` shows `count_distinct_strings`.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, LargeStringArray, ListArray, StringArray,
    StringViewArray, StringViewBuilder,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{exec_err, DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams, Alias};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, Aggregate, AggregateUDF, AggregateUDFImpl, EmitTo, Expr, ExprSchemable,
    GroupsAccumulator, LogicalPlan, Signature, Volatility,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use crate::bytes::same_bytes;

/// `count_distinct_strings(x)`: how many distinct non-null strings `x` holds; 0 for none.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DistinctCount {
    signature: Signature,
}

impl DistinctCount {
    pub fn udaf() -> Arc<AggregateUDF> {
        Arc::new(AggregateUDF::new_from_impl(DistinctCount {
            // Only built by the rule, after type coercion, over a string column.
            signature: Signature::any(1, Volatility::Immutable),
        }))
    }
}

impl AggregateUDFImpl for DistinctCount {
    fn name(&self) -> &str {
        "count_distinct_strings"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    /// As `count`'s: never null, so the rewritten plan keeps the original schema.
    fn is_nullable(&self) -> bool {
        false
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(0)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new_list(
            format_state_name(args.name, "count distinct"),
            Field::new_list_field(DataType::Utf8View, true),
            false,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(OneGroup(DistinctStrings::default())))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(DistinctStrings::default()))
    }
}

/// The distinct strings of every group: each string once in `strings`, and which groups
/// have seen which string in `seen`.
struct DistinctStrings {
    strings: Strings,
    seen: Seen,
    counts: Vec<i64>,
    /// Bits of bitmaps `seen` may take before it turns to pairs ([`MAX_BITS`]; tests set less).
    max_bits: usize,
}

impl Default for DistinctStrings {
    fn default() -> Self {
        DistinctStrings::with_max_bits(MAX_BITS)
    }
}

impl DistinctStrings {
    fn with_max_bits(max_bits: usize) -> DistinctStrings {
        DistinctStrings {
            strings: Strings::default(),
            seen: Seen::default(),
            counts: Vec::new(),
            max_bits,
        }
    }

    #[inline]
    fn add(&mut self, group: usize, value: &str) -> Result<()> {
        let id = self.strings.intern(value)?;
        if self.seen.insert(group, id) {
            self.counts[group] += 1;
        }
        Ok(())
    }

    /// Make room for `total` groups, and a choice of how to remember them for the strings
    /// to come.
    fn grow(&mut self, total: usize) -> Result<()> {
        if total > 1 << 32 {
            return exec_err!("count(DISTINCT) over more than 2^32 groups");
        }
        self.counts.resize(total, 0);
        self.seen.grow(total, self.strings.len(), self.max_bits);
        Ok(())
    }

    /// The distinct strings of each of the first `n` groups, one list a group.
    fn lists(&self, n: usize) -> Result<ListArray> {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0i32);
        for &c in &self.counts[..n] {
            let end = i64::from(*offsets.last().expect("starts at 0")) + c;
            let Ok(end) = i32::try_from(end) else {
                return exec_err!("count(DISTINCT): more than 2^31 distinct values to merge");
            };
            offsets.push(end);
        }
        let mut next: Vec<usize> = offsets[..n].iter().map(|&o| o as usize).collect();
        let mut ids = vec![0u32; offsets[n] as usize];
        self.seen.for_each(n, |group, id| {
            ids[next[group]] = id;
            next[group] += 1;
        });
        let mut values = StringViewBuilder::with_capacity(ids.len());
        for id in ids {
            values.append_value(self.strings.get(id));
        }
        Ok(ListArray::new(
            Arc::new(Field::new_list_field(DataType::Utf8View, true)),
            OffsetBuffer::new(offsets.into()),
            Arc::new(values.finish()),
            None,
        ))
    }

    /// Drop the groups `emit_to` hands out; later groups are renumbered from 0.
    fn take(&mut self, emit_to: EmitTo) -> Vec<i64> {
        let counts = emit_to.take_needed(&mut self.counts);
        match emit_to {
            // Give the memory back: the next groups are new ones.
            EmitTo::All => *self = DistinctStrings::with_max_bits(self.max_bits),
            EmitTo::First(n) => self.seen.drop_first(n),
        }
        counts
    }
}

impl GroupsAccumulator for DistinctStrings {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups)?;
        let strings = Strs::new(&values[0])?;
        for (row, &group) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !(f.is_valid(row) && f.value(row))) {
                continue;
            }
            if let Some(s) = strings.get(row) {
                self.add(group, s)?;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(Arc::new(Int64Array::from(self.take(emit_to))))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let n = match emit_to {
            EmitTo::All => self.counts.len(),
            EmitTo::First(n) => n,
        };
        let lists = self.lists(n)?;
        self.take(emit_to);
        Ok(vec![Arc::new(lists)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups)?;
        let lists = values[0].as_list::<i32>();
        let items = Strs::new(lists.values())?;
        let offsets = lists.value_offsets();
        for (row, &group) in group_indices.iter().enumerate() {
            for item in offsets[row] as usize..offsets[row + 1] as usize {
                if let Some(s) = items.get(item) {
                    self.add(group, s)?;
                }
            }
        }
        Ok(())
    }

    /// Each row its own group: a list of its one value, empty where null or filtered out.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let strings = Strs::new(&values[0])?;
        let rows = values[0].len();
        let mut items = StringViewBuilder::with_capacity(rows);
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0i32);
        let mut end = 0;
        for row in 0..rows {
            let kept = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if let (true, Some(s)) = (kept, strings.get(row)) {
                items.append_value(s);
                end += 1;
            }
            offsets.push(end);
        }
        Ok(vec![Arc::new(ListArray::new(
            Arc::new(Field::new_list_field(DataType::Utf8View, true)),
            OffsetBuffer::new(offsets.into()),
            Arc::new(items.finish()),
            None,
        ))])
    }

    fn size(&self) -> usize {
        self.strings.size() + self.seen.size() + self.counts.capacity() * size_of::<i64>()
    }
}

/// The same count without groups (DataFusion asks for one when a plan has no `GROUP BY`).
struct OneGroup(DistinctStrings);

impl fmt::Debug for OneGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OneGroup({} distinct)", self.0.strings.len())
    }
}

impl Accumulator for OneGroup {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0
            .update_batch(values, &vec![0; values[0].len()], None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(
            self.0.counts.first().copied().unwrap_or(0),
        )))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.0.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.grow(1)?;
        Ok(vec![ScalarValue::List(Arc::new(self.0.lists(1)?))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.merge_batch(states, &vec![0; states[0].len()], 1)
    }
}

/// The string arrays a count may be given, read row by row.
enum Strs<'a> {
    View(&'a StringViewArray),
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
}

impl<'a> Strs<'a> {
    fn new(array: &'a ArrayRef) -> Result<Strs<'a>> {
        Ok(match array.data_type() {
            DataType::Utf8View => Strs::View(array.as_string_view()),
            DataType::Utf8 => Strs::Utf8(array.as_string()),
            DataType::LargeUtf8 => Strs::Large(array.as_string()),
            other => return exec_err!("count_distinct_strings takes strings, not {other}"),
        })
    }

    #[inline]
    fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            Strs::View(a) => a.is_valid(row).then(|| a.value(row)),
            Strs::Utf8(a) => a.is_valid(row).then(|| a.value(row)),
            Strs::Large(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

/// Distinct strings, numbered in the order first seen.
#[derive(Default)]
struct Strings {
    text: String,
    /// Where string `i` ends in `text`; it starts where string `i - 1` ends.
    ends: Vec<usize>,
    /// The hash of string `i`, so that growing the table hashes no string again.
    hashes: Vec<u64>,
    /// Where each string is, by its hash: one read from the table reaches the bytes.
    table: HashTable<Slot>,
    hasher: ahash::RandomState,
}

#[derive(Clone, Copy)]
struct Slot {
    start: usize,
    len: u32,
    id: u32,
}

impl Strings {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, id: u32) -> &str {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    #[inline]
    fn intern(&mut self, value: &str) -> Result<u32> {
        let bytes = value.as_bytes();
        let hash = self.hasher.hash_one(bytes);
        let (text, hashes) = (self.text.as_bytes(), &self.hashes);
        let same = |s: &Slot| {
            s.len as usize == bytes.len()
                && same_bytes(&text[s.start..s.start + bytes.len()], bytes)
        };
        match self.table.entry(hash, same, |s| hashes[s.id as usize]) {
            Entry::Occupied(o) => Ok(o.get().id),
            Entry::Vacant(v) => {
                let (Ok(id), Ok(len)) =
                    (u32::try_from(self.ends.len()), u32::try_from(bytes.len()))
                else {
                    return exec_err!(
                        "count(DISTINCT): more than 2^32 distinct strings, or one past 4 GB"
                    );
                };
                v.insert(Slot {
                    start: self.text.len(),
                    len,
                    id,
                });
                self.text.push_str(value);
                self.ends.push(self.text.len());
                self.hashes.push(hash);
                Ok(id)
            }
        }
    }

    fn size(&self) -> usize {
        self.text.capacity()
            + (self.ends.capacity() + self.hashes.capacity()) * size_of::<u64>()
            + self.table.capacity() * (size_of::<Slot>() + 1)
    }
}

/// Which groups have seen which strings.
enum Seen {
    /// A bitmap a group, bit `id` set once the group has seen string `id`. Used while
    /// groups × strings stays under a limit ([`MAX_BITS`]), as for the usual
    /// `countdistinct(Computer) by <a column of few values>`: then every check stays in the
    /// processor's cache.
    Bits { groups: Vec<Vec<u64>>, words: usize },
    /// `group << 32 | id` of each pair seen, past that.
    Pairs(HashTable<u64>),
}

/// 8 MB of bitmaps.
const MAX_BITS: usize = 1 << 26;

impl Default for Seen {
    fn default() -> Self {
        Seen::Bits {
            groups: Vec::new(),
            words: 0,
        }
    }
}

impl Seen {
    /// Room for `total` groups; pairs from now on if `total` × (`strings` + 1) is past
    /// `max_bits`.
    fn grow(&mut self, total: usize, strings: usize, max_bits: usize) {
        if let Seen::Bits { groups, .. } = self {
            if total.saturating_mul(strings + 1) <= max_bits {
                groups.resize_with(total, Vec::new);
                return;
            }
            let mut pairs = HashTable::new();
            for (group, bits) in groups.iter().enumerate() {
                for_each_bit(bits, |id| {
                    let pair = (group as u64) << 32 | u64::from(id);
                    pairs.insert_unique(mix(pair), pair, |&p| mix(p));
                });
            }
            *self = Seen::Pairs(pairs);
        }
    }

    /// Record that `group` has seen string `id`; whether it had not before.
    #[inline]
    fn insert(&mut self, group: usize, id: u32) -> bool {
        match self {
            Seen::Bits { groups, words } => {
                let bits = &mut groups[group];
                let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
                if word >= bits.len() {
                    let before = bits.capacity();
                    bits.resize(word + 1, 0);
                    *words += bits.capacity() - before;
                }
                let new = bits[word] & bit == 0;
                bits[word] |= bit;
                new
            }
            Seen::Pairs(pairs) => {
                let pair = (group as u64) << 32 | u64::from(id);
                match pairs.entry(mix(pair), |&p| p == pair, |&p| mix(p)) {
                    Entry::Vacant(v) => {
                        v.insert(pair);
                        true
                    }
                    Entry::Occupied(_) => false,
                }
            }
        }
    }

    /// `f(group, id)` for every string seen by one of the first `n` groups.
    fn for_each(&self, n: usize, mut f: impl FnMut(usize, u32)) {
        match self {
            Seen::Bits { groups, .. } => {
                for (group, bits) in groups[..n].iter().enumerate() {
                    for_each_bit(bits, |id| f(group, id));
                }
            }
            Seen::Pairs(pairs) => {
                for &pair in pairs.iter() {
                    let group = (pair >> 32) as usize;
                    if group < n {
                        f(group, pair as u32);
                    }
                }
            }
        }
    }

    /// Forget the first `n` groups and renumber the others from 0.
    fn drop_first(&mut self, n: usize) {
        match self {
            Seen::Bits { groups, words } => {
                for bits in groups.drain(..n) {
                    *words -= bits.capacity();
                }
            }
            Seen::Pairs(pairs) => {
                let n = n as u64;
                let mut kept = HashTable::with_capacity(pairs.len());
                for pair in pairs.drain().filter(|p| p >> 32 >= n) {
                    let pair = pair - (n << 32);
                    kept.insert_unique(mix(pair), pair, |&p| mix(p));
                }
                *pairs = kept;
            }
        }
    }

    fn size(&self) -> usize {
        match self {
            Seen::Bits { groups, words } => {
                groups.capacity() * size_of::<Vec<u64>>() + words * size_of::<u64>()
            }
            Seen::Pairs(pairs) => pairs.capacity() * (size_of::<u64>() + 1),
        }
    }
}

/// `f(i)` for every bit `i` set in `bits`.
fn for_each_bit(bits: &[u64], mut f: impl FnMut(u32)) {
    for (w, &word) in bits.iter().enumerate() {
        let mut rest = word;
        while rest != 0 {
            f((w * 64) as u32 + rest.trailing_zeros());
            rest &= rest - 1;
        }
    }
}

/// A hash of a (group, string number) pair: a folded 128-bit multiply, so that both the
/// table's bucket (low bits) and its tag (high bits) depend on every bit of the pair.
#[inline]
fn mix(pair: u64) -> u64 {
    let p = u128::from(pair).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Rewrites `count(DISTINCT x)` of a string `x` in an aggregation with groups into
/// [`DistinctCount`], under the original expression's name. Must run before DataFusion's
/// `single_distinct_aggregation_to_group_by`, which would make `x` a group key.
#[derive(Debug)]
pub struct CountDistinctStrings {
    udaf: Arc<AggregateUDF>,
}

impl Default for CountDistinctStrings {
    fn default() -> Self {
        CountDistinctStrings {
            udaf: DistinctCount::udaf(),
        }
    }
}

impl CountDistinctStrings {
    /// The replacement for one aggregate expression, if it is a string `count(DISTINCT x)`,
    /// under the same name.
    fn replace(&self, e: &Expr, input: &DFSchema) -> Result<Option<Expr>> {
        Ok(match e {
            Expr::Alias(alias) => self.counted(&alias.expr, input)?.map(|count| {
                Expr::Alias(Alias {
                    expr: Box::new(count),
                    ..alias.clone()
                })
            }),
            _ => self
                .counted(e, input)?
                .map(|count| count.alias(e.schema_name().to_string())),
        })
    }

    fn counted(&self, e: &Expr, input: &DFSchema) -> Result<Option<Expr>> {
        let Expr::AggregateFunction(AggregateFunction {
            func,
            params:
                AggregateFunctionParams {
                    args,
                    distinct: true,
                    filter,
                    order_by,
                    null_treatment: None,
                },
        }) = e
        else {
            return Ok(None);
        };
        let [arg] = args.as_slice() else {
            return Ok(None);
        };
        let string = matches!(
            arg.get_type(input)?,
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        );
        if func.name() != "count" || !order_by.is_empty() || !string {
            return Ok(None);
        }
        Ok(Some(Expr::AggregateFunction(AggregateFunction::new_udf(
            self.udaf.clone(),
            vec![arg.clone()],
            false,
            filter.clone(),
            vec![],
            None,
        ))))
    }
}

impl OptimizerRule for CountDistinctStrings {
    fn name(&self) -> &str {
        "count_distinct_strings"
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
        let LogicalPlan::Aggregate(agg) = &plan else {
            return Ok(Transformed::no(plan));
        };
        // Without groups DataFusion's own plan (a parallel group-by on `x`) is the fast one.
        if agg.group_expr.is_empty() || matches!(agg.group_expr[0], Expr::GroupingSet(_)) {
            return Ok(Transformed::no(plan));
        }
        let mut changed = false;
        let mut aggr_expr = Vec::with_capacity(agg.aggr_expr.len());
        for e in &agg.aggr_expr {
            match self.replace(e, agg.input.schema())? {
                Some(new) => {
                    changed = true;
                    aggr_expr.push(new);
                }
                None => aggr_expr.push(e.clone()),
            }
        }
        if !changed {
            return Ok(Transformed::no(plan));
        }
        let LogicalPlan::Aggregate(agg) = plan else {
            unreachable!("matched above")
        };
        let new = Aggregate::try_new(agg.input, agg.group_expr, aggr_expr)?;
        Ok(Transformed::yes(LogicalPlan::Aggregate(new)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use proptest::prelude::*;

    /// (group, value, kept by the filter)
    type Row = (usize, Option<String>, bool);

    /// What the count must be: the distinct non-null values kept, per group.
    fn expected(rows: &[Row], groups: usize) -> Vec<i64> {
        let mut sets = vec![HashSet::new(); groups];
        for (g, v, kept) in rows {
            if let (Some(v), true) = (v, kept) {
                sets[*g].insert(v.clone());
            }
        }
        sets.iter().map(|s| s.len() as i64).collect()
    }

    /// The values as one of the three string types.
    fn strings(rows: &[Row], kind: usize) -> ArrayRef {
        let values = rows.iter().map(|r| r.1.as_deref());
        match kind {
            0 => Arc::new(values.collect::<StringViewArray>()),
            1 => Arc::new(values.collect::<StringArray>()),
            _ => Arc::new(values.collect::<LargeStringArray>()),
        }
    }

    fn update(acc: &mut DistinctStrings, rows: &[Row], groups: usize, kind: usize) {
        let indices: Vec<usize> = rows.iter().map(|r| r.0).collect();
        let filter: BooleanArray = rows.iter().map(|r| Some(r.2)).collect();
        acc.update_batch(&[strings(rows, kind)], &indices, Some(&filter), groups)
            .unwrap();
    }

    fn counts(array: ArrayRef) -> Vec<i64> {
        array
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .values()
            .to_vec()
    }

    fn rows_strategy() -> impl Strategy<Value = Vec<Row>> {
        // Short values sit inline in a view, long ones (over 12 bytes) in its buffers.
        let value = proptest::option::of(prop_oneof!["[a-c]{0,3}", "[a-c]{13,15}"]);
        proptest::collection::vec((0..5usize, value, proptest::bool::weighted(0.8)), 0..200)
    }

    proptest! {
        /// Directly, through partial states, through per-row states, and emitting the first
        /// groups early: each gives a set's count, with bitmaps, pairs, or a switch between.
        #[test]
        fn counts_distinct_values_per_group(
            rows in rows_strategy(),
            split in 0..200usize,
            first in 0..6usize,
            max_bits in prop_oneof![Just(0usize), Just(24), Just(MAX_BITS)],
            kind in 0..3usize,
        ) {
            const GROUPS: usize = 5;
            let (a, b) = rows.split_at(split.min(rows.len()));
            let want = expected(&rows, GROUPS);

            let mut direct = DistinctStrings::with_max_bits(max_bits);
            update(&mut direct, a, GROUPS, kind);
            update(&mut direct, b, GROUPS, kind);
            prop_assert_eq!(counts(direct.evaluate(EmitTo::All).unwrap()), want.clone());

            // Two partial aggregations merged, as across partitions.
            let mut merged = DistinctStrings::with_max_bits(max_bits);
            for part in [a, b] {
                let mut partial = DistinctStrings::with_max_bits(max_bits);
                update(&mut partial, part, GROUPS, kind);
                let state = partial.state(EmitTo::All).unwrap();
                let groups: Vec<usize> = (0..GROUPS).collect();
                merged.merge_batch(&state, &groups, GROUPS).unwrap();
            }
            prop_assert_eq!(counts(merged.evaluate(EmitTo::All).unwrap()), want.clone());

            // Each row its own state, as when DataFusion skips partial aggregation.
            let mut from_rows = DistinctStrings::with_max_bits(max_bits);
            let filter: BooleanArray = rows.iter().map(|r| Some(r.2)).collect();
            let state = from_rows.convert_to_state(&[strings(&rows, kind)], Some(&filter)).unwrap();
            let groups: Vec<usize> = rows.iter().map(|r| r.0).collect();
            from_rows.merge_batch(&state, &groups, GROUPS).unwrap();
            prop_assert_eq!(counts(from_rows.evaluate(EmitTo::All).unwrap()), want.clone());

            // The first groups emitted after `a`; `b`'s later groups renumbered after that.
            let first = first.min(GROUPS);
            let mut early = DistinctStrings::with_max_bits(max_bits);
            update(&mut early, a, GROUPS, kind);
            let head = counts(early.evaluate(EmitTo::First(first)).unwrap());
            prop_assert_eq!(&head[..], &expected(a, GROUPS)[..first]);
            let later: Vec<Row> = b
                .iter()
                .filter(|r| r.0 >= first)
                .map(|r| (r.0 - first, r.1.clone(), r.2))
                .collect();
            update(&mut early, &later, GROUPS - first, kind);
            let tail = counts(early.evaluate(EmitTo::All).unwrap());
            let late_b: Vec<Row> = b.iter().filter(|r| r.0 >= first).cloned().collect();
            let want_tail = expected(&[a, &late_b[..]].concat(), GROUPS);
            prop_assert_eq!(&tail[..], &want_tail[first..]);

            // A state of the first groups only, merged elsewhere.
            let mut part = DistinctStrings::with_max_bits(max_bits);
            update(&mut part, &rows, GROUPS, kind);
            let state = part.state(EmitTo::First(first)).unwrap();
            let mut other = DistinctStrings::with_max_bits(max_bits);
            let groups: Vec<usize> = (0..first).collect();
            other.merge_batch(&state, &groups, first).unwrap();
            prop_assert_eq!(&counts(other.evaluate(EmitTo::All).unwrap())[..], &want[..first]);
            prop_assert_eq!(&counts(part.evaluate(EmitTo::All).unwrap())[..], &want[first..]);
        }
    }

    #[test]
    fn without_groups_it_counts_once() {
        let rows: Vec<Row> = ["a", "b", "a", "a long value here", "a long value here"]
            .iter()
            .map(|v| (0, Some(v.to_string()), true))
            .collect();
        let mut acc = OneGroup(DistinctStrings::default());
        acc.update_batch(&[strings(&rows, 0)]).unwrap();
        let state = acc.state().unwrap();
        let mut other = OneGroup(DistinctStrings::default());
        let ScalarValue::List(list) = &state[0] else {
            panic!("a list state")
        };
        other.merge_batch(&[list.clone() as ArrayRef]).unwrap();
        other.merge_batch(&[list.clone() as ArrayRef]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Int64(Some(3)));
        assert_eq!(other.evaluate().unwrap(), ScalarValue::Int64(Some(3)));
    }

    /// A session with our optimizer rules or DataFusion's alone, two partitions, and
    /// optionally partial aggregation skipped from the first rows on.
    fn session(ours: bool, skip_partial: bool) -> SessionContext {
        let mut config = SessionConfig::new().with_target_partitions(2);
        if skip_partial {
            let exec = &mut config.options_mut().execution;
            exec.skip_partial_aggregation_probe_rows_threshold = 1;
            exec.skip_partial_aggregation_probe_ratio_threshold = 0.0;
        }
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features();
        if ours {
            state = state.with_optimizer_rules(super::super::optimizer_rules());
        }
        SessionContext::new_with_state(state.build())
    }

    /// The column names, the optimized plan and the results, as text.
    async fn run(ctx: &SessionContext, sql: &str) -> (Vec<String>, String, String) {
        let df = ctx.sql(sql).await.unwrap();
        let names = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let plan = df.clone().into_optimized_plan().unwrap();
        let plan = plan.display_indent().to_string();
        let batches = df.collect().await.unwrap();
        let results = pretty_format_batches(&batches).unwrap().to_string();
        (names, plan, results)
    }

    const QUERIES: [&str; 8] = [
        "SELECT g, count(DISTINCT x) FROM t GROUP BY g ORDER BY g",
        "SELECT g, count(DISTINCT x) AS n, count(*) AS c, max(y) FROM t GROUP BY g \
         HAVING count(DISTINCT x) > 1 ORDER BY n DESC, g",
        "SELECT g, y % 3 AS m, count(DISTINCT x), count(DISTINCT g) FROM t GROUP BY g, y % 3 \
         ORDER BY g, m",
        "SELECT g, count(DISTINCT x) FILTER (WHERE y > 0) FROM t GROUP BY g ORDER BY 2, g",
        "SELECT g, count(DISTINCT lower(x)) AS n FROM t GROUP BY g ORDER BY g",
        "SELECT g FROM t GROUP BY g HAVING count(DISTINCT x) > 1 ORDER BY g",
        "SELECT count(DISTINCT x) FROM t",
        "SELECT g, count(DISTINCT x) FROM t GROUP BY ROLLUP (g) ORDER BY g",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// The same rows and names with the rule as with DataFusion's own plan, and the rule
        /// used wherever there are groups (but not grouping sets).
        #[test]
        fn sql_answers_as_datafusion_does(
            rows in proptest::collection::vec(
                (
                    proptest::option::of("[AB]"),
                    proptest::option::of(prop_oneof!["[a-cA]{0,3}", "[a-c]{13,14}"]),
                    -2..3i64,
                ),
                0..300,
            ),
            skip_partial in any::<bool>(),
        ) {
            use datafusion::arrow::array::{Int64Array, RecordBatch};
            use datafusion::arrow::datatypes::Schema;
            let schema = Arc::new(Schema::new(vec![
                Field::new("g", DataType::Utf8View, true),
                Field::new("x", DataType::Utf8View, true),
                Field::new("y", DataType::Int64, false),
            ]));
            let batch = |rows: &[(Option<String>, Option<String>, i64)]| {
                RecordBatch::try_new(schema.clone(), vec![
                    Arc::new(rows.iter().map(|r| r.0.as_deref()).collect::<StringViewArray>()),
                    Arc::new(rows.iter().map(|r| r.1.as_deref()).collect::<StringViewArray>()),
                    Arc::new(rows.iter().map(|r| r.2).collect::<Int64Array>()),
                ]).unwrap()
            };
            let (a, b) = rows.split_at(rows.len() / 3);
            let partitions = vec![vec![batch(a)], vec![batch(b), batch(a)]];
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            for sql in QUERIES {
                let (ours, theirs) = runtime.block_on(async {
                    let mut out = Vec::new();
                    for rules in [true, false] {
                        let ctx = session(rules, skip_partial);
                        let table = MemTable::try_new(schema.clone(), partitions.clone()).unwrap();
                        ctx.register_table("t", Arc::new(table)).unwrap();
                        out.push(run(&ctx, sql).await);
                    }
                    (out.remove(0), out.remove(0))
                });
                prop_assert_eq!(&ours.0, &theirs.0, "{}", sql);
                prop_assert_eq!(&ours.2, &theirs.2, "{}", sql);
                let grouped = sql.contains("GROUP BY") && !sql.contains("ROLLUP");
                prop_assert_eq!(ours.1.contains("count_distinct_strings"), grouped, "{}", ours.1);
            }
        }
    }
}
