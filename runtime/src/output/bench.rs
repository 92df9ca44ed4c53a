//! `--bench` results as the current release prints them: in text a table headed `Benchmark`,
//! `Time(ns)`, `Iterations` (the name column at least 40 wide, time 15), the heading before
//! the first result; in JSON one `benchmark_result` line per benchmark.

use super::json::write_string;

const BENCHMARK: &str = "Benchmark";
const TIME: &str = "Time(ns)";
const ITERATIONS: &str = "Iterations";
const TIME_WIDTH: usize = 15;

/// One benchmark's result line, `index` of `names` (the heading with the first).
pub fn bench_text(out: &mut Vec<u8>, names: &[String], index: usize, average_ns: u64, iters: u64) {
    let width = names.iter().map(String::len).fold(40, usize::max) + 1;
    let mut text = String::new();
    if index == 0 {
        text.push_str(&format!(
            "{BENCHMARK:<width$}{TIME:<TIME_WIDTH$}{ITERATIONS}\n"
        ));
        text.push_str(&"-".repeat(width + TIME_WIDTH + ITERATIONS.len()));
        text.push('\n');
    }
    let name = &names[index];
    text.push_str(&format!("{name:<width$}{average_ns:<TIME_WIDTH$}{iters}\n"));
    out.extend_from_slice(text.as_bytes());
}

/// `{"type": "benchmark_result", "data": {"NAME": {"average": N, "iters": N}}}`.
pub fn bench_json(out: &mut Vec<u8>, name: &str, average_ns: u64, iters: u64) {
    out.extend_from_slice(b"{\"type\": \"benchmark_result\", \"data\": {");
    write_string(out, name.as_bytes());
    out.extend_from_slice(
        format!(": {{\"average\": {average_ns}, \"iters\": {iters}}}}}}}\n").as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_with_its_heading_first() {
        let names = vec!["a".to_string(), "bb".to_string()];
        let mut out = Vec::new();
        bench_text(&mut out, &names, 0, 40, 1000);
        bench_text(&mut out, &names, 1, 7, 20000);
        let expected = format!(
            "{:<41}{:<15}Iterations\n{}\n{:<41}{:<15}1000\n{:<41}{:<15}20000\n",
            "Benchmark",
            "Time(ns)",
            "-".repeat(66),
            "a",
            40,
            "bb",
            7
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn json_lines() {
        let mut out = Vec::new();
        bench_json(&mut out, "a", 40, 1000);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"type\": \"benchmark_result\", \"data\": {\"a\": {\"average\": 40, \"iters\": 1000}}}\n"
        );
    }
}
