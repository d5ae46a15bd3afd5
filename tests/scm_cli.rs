//! `mido scm` on data simulated with a known weight effect on clearance
//! (exponent 0.75) and a covariate with no effect at all: the search must
//! select the weight effect and reject the null covariate, and the
//! selected model it writes must compile and fit.

mod common;
use common::{mido, s, text};

const MODEL: &str = r#"model covariate_truth
covariates {
  WT: real [kg]
  RND: real
}
fixed {
  tv_cl = 4.0 in (0, ) [L/h]
  tv_v  = 40 in (0, ) [L]
  tv_ka = 1.2 in (0, ) [1/h]
  prop  = 0.1 in (0, )
}
random subject {
  eta_cl ~ normal(0, 0.04)
  eta_v  ~ normal(0, 0.02)
}
individual {
  cl = tv_cl * exp(eta_cl)
  v  = tv_v * exp(eta_v)
  ka = tv_ka
}
compartments {
  depot  [mg] dose
  center [mg]
}
pk one_compartment_oral(ka = ka, cl = cl, v = v)
observe {
  cp [mg/L] = center / v
  DV ~ normal(cp, prop * cp)
}
"#;

/// 60 subjects with weights spread over 45–115 kg (a fixed shuffle, so
/// weight is unrelated to the order) and an unrelated covariate RND.
fn design() -> String {
    let mut rows = vec!["ID,TIME,AMT,DV,EVID,MDV,CMT,WT,RND".to_string()];
    for id in 1..=60u32 {
        let wt = 45.0 + f64::from((id * 37) % 60) * 70.0 / 59.0;
        let rnd = 20.0 + 2.5 * f64::from((id * 13) % 17);
        rows.push(format!("{id},0,100,.,1,1,1,{wt:.2},{rnd}"));
        for t in [0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0] {
            rows.push(format!("{id},{t},.,0,0,0,2,{wt:.2},{rnd}"));
        }
    }
    rows.join("\n") + "\n"
}

#[test]
fn scm_selects_the_true_weight_effect_and_rejects_the_null_covariate() {
    let dir = std::env::temp_dir().join(format!("mido-scm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    // The truth: clearance proportional to (WT/70)^0.75.
    let truth = MODEL.replace(
        "cl = tv_cl * exp(eta_cl)",
        "cl = tv_cl * (WT / 70 [kg])^0.75 * exp(eta_cl)",
    );
    let (truth_path, base_path) = (dir.join("truth.mido"), dir.join("base.mido"));
    std::fs::write(&truth_path, &truth).expect("write");
    std::fs::write(&base_path, MODEL).expect("write");
    let design_path = dir.join("design.csv");
    std::fs::write(&design_path, design()).expect("write");
    let sim = dir.join("sim");
    let o = mido(&[
        "simulate",
        s(&truth_path),
        "--data",
        s(&design_path),
        "--seed",
        "4",
        "--out",
        s(&sim),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // The design with the simulated DVs.
    let table = std::fs::read_to_string(sim.join("simulation.csv")).expect("table");
    let header: Vec<&str> = table.lines().next().expect("header").split(',').collect();
    let dv_col = header.iter().position(|h| *h == "DV").expect("DV");
    let dvs: Vec<String> = table
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(dv_col).expect("dv").to_string())
        .collect();
    let design = design();
    let mut lines = design.lines();
    let mut data = vec![lines.next().expect("header").to_string()];
    for (line, dv) in lines.zip(&dvs) {
        let mut f: Vec<String> = line.split(',').map(String::from).collect();
        if f[4] == "0" {
            f[3] = dv.clone();
        }
        data.push(f.join(","));
    }
    let data_path = dir.join("data.csv");
    std::fs::write(&data_path, data.join("\n") + "\n").expect("write");

    let out = dir.join("scm");
    let o = mido(&[
        "scm",
        s(&base_path),
        "--data",
        s(&data_path),
        "--effect",
        "cl:WT,RND",
        "--effect",
        "v:RND",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let report = text(&o.stdout);
    assert!(report.contains("Selected: cl~WT (power)"), "{report}");
    assert!(!report.contains("Selected: cl~WT (power), "), "{report}");
    let log = std::fs::read_to_string(out.join("scm_log.csv")).expect("log");
    // The first forward step tests all three candidates and adds WT.
    let first: Vec<&str> = log.lines().filter(|l| l.starts_with("1,forward")).collect();
    assert_eq!(first.len(), 3, "{log}");
    assert!(
        first
            .iter()
            .any(|l| l.contains("\"cl~WT (power)\"") && l.ends_with(",true,\"ok\"")),
        "{log}"
    );
    // The selected model compiles, carries the effect and refits to the
    // final OFV of the search.
    let final_model = out.join("final.mido");
    let final_text = std::fs::read_to_string(&final_model).expect("final");
    assert!(final_text.contains("(WT / "), "{final_text}");
    assert!(final_text.contains("cl_wt = 0.1  // covariate effect cl~WT (power)"));
    let refit = dir.join("refit");
    let o = mido(&[
        "fit",
        s(&final_model),
        "--data",
        s(&data_path),
        "--out",
        s(&refit),
        "--covariance",
        "none",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let est: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(refit.join("estimates.json")).expect("est"))
            .expect("json");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).expect("record"))
            .expect("json");
    let ofv = est["ofv"]["value"].as_f64().expect("ofv");
    let final_ofv = record["final_ofv"].as_f64().expect("final ofv");
    assert!((ofv - final_ofv).abs() < 0.05, "{ofv} vs {final_ofv}");
    let exponent = est["theta"]
        .as_array()
        .expect("thetas")
        .iter()
        .find(|t| t["name"] == "cl_wt")
        .and_then(|t| t["estimate"].as_f64())
        .expect("cl_wt");
    assert!(
        (exponent - 0.75).abs() < 0.3,
        "estimated exponent {exponent}"
    );
}
