//! Translation speed of legacy searches (target: well under 1 ms for a typical search).

use criterion::{criterion_group, criterion_main, Criterion};
use omslake::search::{translate, Options};

fn bench(c: &mut Criterion) {
    let options = Options {
        now_micros: 1_710_000_000_000_000,
        case_sensitive: false,
        dialect: Default::default(),
    };
    let searches = [
        ("measure", "Type:Update OSType!=Linux UpdateState=Needed Optional=false Approved!=false | measure count() by Computer"),
        ("subsearch", "Type=Update UpdateState=Needed Optional=false (Classification=\"Security Updates\" OR Classification=\"Critical Updates\") Computer IN {Type=UpdateSummary WindowsUpdateSetting=Manual | Distinct Computer} | Distinct KBID"),
        ("interval", "Type=Event EventLevelName=Error | measure count() by Computer interval 1DAY"),
        ("free_text_all_tables", "contoso error"),
    ];
    for (name, s) in searches {
        c.bench_function(&format!("translate/{name}"), |b| {
            b.iter(|| translate(std::hint::black_box(s), &options, false).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
