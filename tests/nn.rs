//! The layer API (`theon::nn`): names and shapes, a layer network's
//! log-density equal to the hand-written network's, the priors'
//! log-densities by hand, groups against a per-group evaluation, errors
//! that name the layer; and `find_map` against closed-form modes.

use theon::nn;
use theon::ppl::*;
use theon::prelude::*;

const LN_2PI: f64 = 1.8378770664093453;

/// The model's log-density at its initial point, and the point.
fn logp_at_init(m: &Model) -> (f64, Vec<(String, Tensor)>) {
    let free = m.free_vars();
    let inputs: Vec<&Var> = free.iter().map(|(_, v)| v).collect();
    let f = function(&inputs, &[&m.logp().unwrap()]).unwrap();
    let point = m.initial_point().unwrap();
    let args: Vec<Tensor> = point.iter().map(|(_, t)| t.clone()).collect();
    (f.call(&args).unwrap()[0].item::<f64>().unwrap(), point)
}

fn norm_logpdf(x: f64, sd: f64) -> f64 {
    -0.5 * (x / sd).powi(2) - sd.ln() - 0.5 * LN_2PI
}

fn moons_like() -> (Tensor, Tensor) {
    let x = Tensor::new(
        vec![0.3, -1.2, 1.5, 0.4, -0.7, 0.9, 0.0, 2.1, -1.8, -0.3],
        &[5, 2],
    )
    .unwrap();
    let y = Tensor::vector(vec![1.0, 0.0, 1.0, 1.0, 0.0]);
    (x, y)
}

#[test]
fn layers_are_named_and_shaped_from_the_input() {
    let m = Model::new();
    let x = Var::input("x", TensorType::new(DType::F64, vec![None, Some(3)]));
    let net = nn::Sequential::new(&m, "net")
        .dense(4, nn::Tanh)
        .unwrap()
        .bias(false)
        .dense(2, nn::Softmax)
        .unwrap();
    let p = net.forward(&x).unwrap();
    assert_eq!(p.static_shape().to_vec(), [None, Some(2)]);
    let names: Vec<String> = m.free_vars().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["net.dense0.w", "net.dense0.b", "net.dense1.w"]);
    let shape = |n: &str| m.var(n).unwrap().static_shape().to_vec();
    assert_eq!(shape("net.dense0.w"), [Some(3), Some(4)]);
    assert_eq!(shape("net.dense0.b"), [Some(4)]);
    assert_eq!(shape("net.dense1.w"), [Some(4), Some(2)]);
    // A second application reuses the weights; a wrong width names the layer.
    let before = m.free_vars().len();
    let x2 = Var::input("x2", TensorType::new(DType::F64, vec![Some(7), Some(3)]));
    assert_eq!(
        net.forward(&x2).unwrap().static_shape().to_vec(),
        [Some(7), Some(2)]
    );
    assert_eq!(m.free_vars().len(), before);
    let bad = Var::input("bad", TensorType::new(DType::F64, vec![None, Some(5)]));
    let e = net.forward(&bad).unwrap_err();
    assert!(
        e.message()
            .contains("net.dense0: input has 5 features, the layer was built for 3"),
        "{e}"
    );
    // No layers after the first application; no zero-unit layers.
    assert!(net.clone().dense(1, nn::Identity).is_err());
    assert!(nn::Sequential::new(&m, "z").dense(0, nn::Relu).is_err());
    // Without groups a dense layer maps the last axis, as Keras' does; with
    // groups an unflattened input says to flatten.
    let img = Var::input(
        "img",
        TensorType::new(DType::F64, vec![None, Some(2), Some(2)]),
    );
    let out = nn::Sequential::new(&Model::new(), "c")
        .dense(3, nn::Relu)
        .unwrap()
        .forward(&img)
        .unwrap();
    assert_eq!(out.static_shape().to_vec(), [None, Some(2), Some(3)]);
    let img = Var::input(
        "img",
        TensorType::new(DType::F64, vec![Some(2), None, Some(2), Some(2)]),
    );
    let e = nn::Sequential::new(&Model::new(), "g")
        .groups(2)
        .unwrap()
        .dense(3, nn::Relu)
        .unwrap()
        .forward(&img)
        .unwrap_err();
    assert!(e.message().contains("flatten"), "{e}");
}

#[test]
fn flatten_feeds_a_dense_layer_every_feature() {
    let m = Model::new();
    let img = Var::input(
        "img",
        TensorType::new(DType::F64, vec![None, Some(2), Some(3)]),
    );
    let net = nn::Sequential::new(&m, "net")
        .flatten()
        .unwrap()
        .dense(1, nn::Identity)
        .unwrap();
    let out = net.forward(&img).unwrap();
    assert_eq!(
        m.var("net.dense0.w").unwrap().static_shape().to_vec(),
        [Some(6), Some(1)]
    );
    // out = flatten(img) · w + b at the initial point, by hand.
    let point = m.initial_point().unwrap();
    let (w, b) = (point[0].1.to_f64_vec(), point[1].1.to_f64_vec());
    let free = m.free_vars();
    let f = function(&[&img, &free[0].1, &free[1].1], &[&out]).unwrap();
    let data: Vec<f64> = (0..12).map(|k| k as f64 * 0.25 - 1.0).collect();
    let got = f
        .call(&[
            Tensor::new(data.clone(), &[2, 2, 3]).unwrap(),
            point[0].1.clone(),
            point[1].1.clone(),
        ])
        .unwrap()[0]
        .to_f64_vec();
    for r in 0..2 {
        let want: f64 = (0..6).map(|k| data[6 * r + k] * w[k]).sum::<f64>() + b[0];
        assert!((got[r] - want).abs() < 1e-12);
    }
}

#[test]
fn the_notebook_network_by_layers_has_the_hand_written_log_density() {
    let (x, y) = moons_like();
    // By layers: 2-5-5-1 tanh, no biases, Normal(0, 1), the notebook's randn start.
    let m = Model::new();
    let xd = m.data("x", x.clone()).unwrap();
    let net = nn::Sequential::new(&m, "net")
        .bias(false)
        .init(nn::Init::Normal(1.0))
        .seed(3)
        .dense(5, nn::Tanh)
        .unwrap()
        .dense(5, nn::Tanh)
        .unwrap()
        .dense(1, nn::Sigmoid)
        .unwrap();
    let p = net.forward(&xd).unwrap().squeeze(&[-1]).unwrap();
    m.bernoulli("out", &p).unwrap().observed(y.clone());
    let (lp_layers, point) = logp_at_init(&m);
    // By hand, started at the same point.
    let h = Model::new();
    let xh = h.data("x", x).unwrap();
    let shapes: [&[usize]; 3] = [&[2, 5], &[5, 5], &[5, 1]];
    let w: Vec<Rv> = shapes
        .iter()
        .enumerate()
        .map(|(k, s)| {
            h.normal(&format!("w{k}"), 0.0, 1.0, *s)
                .unwrap()
                .init(point[k].1.clone())
        })
        .collect();
    let ph = xh
        .dot(w[0].var())
        .unwrap()
        .tanh()
        .dot(w[1].var())
        .unwrap()
        .tanh()
        .dot(w[2].var())
        .unwrap()
        .sigmoid()
        .squeeze(&[-1])
        .unwrap();
    h.bernoulli("out", &ph).unwrap().observed(y);
    let (lp_hand, _) = logp_at_init(&h);
    assert_eq!(lp_layers, lp_hand);
    // Seeded: the same seed starts at the same point, another elsewhere.
    let start = |seed| {
        let m = Model::new();
        let x = Var::input("x", TensorType::new(DType::F64, vec![None, Some(2)]));
        nn::Sequential::new(&m, "n")
            .seed(seed)
            .dense(3, nn::Tanh)
            .unwrap()
            .forward(&x)
            .unwrap();
        m.initial_point().unwrap()[0].1.to_f64_vec()
    };
    assert_eq!(start(1), start(1));
    assert_ne!(start(1), start(2));
    // Glorot: sd sqrt(2 / (2 + 3)); the sample sd of 6 draws is loose, so
    // check the scale through a large layer instead.
    let m = Model::new();
    let x = Var::input("x", TensorType::new(DType::F64, vec![None, Some(200)]));
    nn::Sequential::new(&m, "n")
        .dense(300, nn::Tanh)
        .unwrap()
        .forward(&x)
        .unwrap();
    let w = m.initial_point().unwrap()[0].1.to_f64_vec();
    let sd = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
    let want = (2.0f64 / 500.0).sqrt();
    assert!((sd / want - 1.0).abs() < 0.02, "sd {sd} vs {want}");
}

#[test]
fn learned_and_hierarchical_priors_have_their_log_densities() {
    // Learned per-layer scale, non-centred: raw ~ N(0, 1), s ~ HalfNormal(2).
    let m = Model::new();
    let x = Var::input("x", TensorType::new(DType::F64, vec![None, Some(2)]));
    nn::Sequential::new(&m, "net")
        .prior(nn::Prior::learned(nn::Scale::HalfNormal(2.0)))
        .bias(false)
        .dense(3, nn::Tanh)
        .unwrap()
        .forward(&x)
        .unwrap();
    let (lp, point) = logp_at_init(&m);
    let names: Vec<&str> = point.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["net.dense0.w_scale", "net.dense0.w_raw"]);
    let s = point[0].1.item::<f64>().unwrap();
    let want = (norm_logpdf(s, 2.0) + 2f64.ln())
        + point[1]
            .1
            .iter_f64()
            .map(|r| norm_logpdf(r, 1.0))
            .sum::<f64>();
    assert!((lp - want).abs() < 1e-12, "{lp} vs {want}");

    // Per unit, centred: w ~ Normal(0, s[j]) column by column.
    let m = Model::new();
    nn::Sequential::new(&m, "net")
        .prior(
            nn::Prior::learned(nn::Scale::HalfCauchy(1.0))
                .per_unit()
                .centered(),
        )
        .bias(false)
        .dense(3, nn::Tanh)
        .unwrap()
        .forward(&x)
        .unwrap();
    let free = m.free_vars();
    assert_eq!(
        m.var("net.dense0.w_scale").unwrap().static_shape().to_vec(),
        [Some(3)]
    );
    let inputs: Vec<&Var> = free.iter().map(|(_, v)| v).collect();
    let f = function(&inputs, &[&m.logp().unwrap()]).unwrap();
    let s = vec![0.5, 1.5, 3.0];
    let w: Vec<f64> = (0..6).map(|k| 0.3 * k as f64 - 0.7).collect();
    let lp = f
        .call(&[
            Tensor::vector(s.clone()),
            Tensor::new(w.clone(), &[2, 3]).unwrap(),
        ])
        .unwrap()[0]
        .item::<f64>()
        .unwrap();
    // HalfCauchy(1): log(2 / (π (1 + s²))).
    let mut want: f64 = s
        .iter()
        .map(|v| (2.0 / (std::f64::consts::PI * (1.0 + v * v))).ln())
        .sum();
    for (k, wv) in w.iter().enumerate() {
        want += norm_logpdf(*wv, s[k % 3]);
    }
    assert!((lp - want).abs() < 1e-12, "{lp} vs {want}");

    // Hierarchical over 4 groups: mean ~ N(0, 1), group sd ~ HalfNormal(1),
    // raw ~ N(0, 1); each group's weights = mean + sd * raw.
    let m = Model::new();
    let xg = Var::input(
        "xg",
        TensorType::new(DType::F64, vec![Some(4), None, Some(2)]),
    );
    let net = nn::Sequential::new(&m, "net")
        .groups(4)
        .unwrap()
        .prior(nn::Prior::hierarchical(nn::Scale::HalfNormal(1.0)))
        .bias(false)
        .dense(3, nn::Identity)
        .unwrap();
    let out = net.forward(&xg).unwrap();
    assert_eq!(out.static_shape().to_vec(), [Some(4), None, Some(3)]);
    let (lp, point) = logp_at_init(&m);
    let names: Vec<&str> = point.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "net.dense0.w_mean",
            "net.dense0.w_group_sd",
            "net.dense0.w_raw"
        ]
    );
    let want = point[0]
        .1
        .iter_f64()
        .map(|v| norm_logpdf(v, 1.0))
        .sum::<f64>()
        + norm_logpdf(point[1].1.item::<f64>().unwrap(), 1.0)
        + 2f64.ln()
        + point[2]
            .1
            .iter_f64()
            .map(|v| norm_logpdf(v, 1.0))
            .sum::<f64>();
    assert!((lp - want).abs() < 1e-12, "{lp} vs {want}");
    // A hierarchical prior without groups is an error naming the weights.
    let e = nn::Sequential::new(&Model::new(), "h")
        .prior(nn::Prior::hierarchical(nn::Scale::HalfNormal(1.0)))
        .dense(2, nn::Tanh)
        .unwrap()
        .forward(&x)
        .unwrap_err();
    assert!(
        e.message().contains("h.dense0.w") && e.message().contains("groups"),
        "{e}"
    );
    // Bad prior parameters are errors when the layer is added.
    let e = nn::Sequential::new(&Model::new(), "q")
        .prior(nn::Prior::normal(-1.0))
        .dense(2, nn::Tanh)
        .unwrap_err();
    assert!(e.message().contains("q.dense0"), "{e}");
}

#[test]
fn groups_apply_each_groups_own_weights() {
    // 3 separate networks 2 -> 2 (identity) on [3, 4, 2]: group g's output
    // is x[g] · w[g] + b[g].
    let m = Model::new();
    let x = Var::input(
        "x",
        TensorType::new(DType::F64, vec![Some(3), Some(4), Some(2)]),
    );
    let net = nn::Sequential::new(&m, "sep")
        .groups(3)
        .unwrap()
        .dense(2, nn::Identity)
        .unwrap();
    let out = net.forward(&x).unwrap();
    let free = m.free_vars();
    let w: Vec<f64> = (0..12).map(|k| (k as f64 - 5.5) * 0.1).collect();
    let b: Vec<f64> = (0..6).map(|k| k as f64 * 0.5).collect();
    let xs: Vec<f64> = (0..24).map(|k| (k as f64).sin()).collect();
    let f = function(&[&x, &free[0].1, &free[1].1], &[&out]).unwrap();
    let got = f
        .call(&[
            Tensor::new(xs.clone(), &[3, 4, 2]).unwrap(),
            Tensor::new(w.clone(), &[3, 2, 2]).unwrap(),
            Tensor::new(b.clone(), &[3, 1, 2]).unwrap(),
        ])
        .unwrap()[0]
        .to_f64_vec();
    for g in 0..3 {
        for r in 0..4 {
            for j in 0..2 {
                let want = (0..2)
                    .map(|i| xs[g * 8 + r * 2 + i] * w[g * 4 + i * 2 + j])
                    .sum::<f64>()
                    + b[g * 2 + j];
                assert!((got[g * 8 + r * 2 + j] - want).abs() < 1e-12);
            }
        }
    }
    let bad = Var::input(
        "b",
        TensorType::new(DType::F64, vec![Some(5), None, Some(2)]),
    );
    let e = net.forward(&bad).unwrap_err();
    assert!(e.message().contains("3 groups"), "{e}");
}

#[test]
fn find_map_reaches_the_closed_form_modes() {
    // mu ~ Normal(0, 10), y_i ~ Normal(mu, 1): mode sum(y) / (n + 1/100).
    // s ~ HalfNormal(1), z_i ~ Normal(0, s): the mode of the density of s
    // itself (no Jacobian) solves s^4 + n s^2 - S = 0, S = sum z^2.
    let y = [1.2, 0.7, 2.3, 1.9];
    let z = [0.5, -1.5, 2.0, 1.0, -0.5];
    let m = Model::new();
    let mu = m.normal("mu", 0.0, 10.0, ()).unwrap();
    m.normal("y", &mu, 1.0, ())
        .unwrap()
        .observed(Tensor::vector(y.to_vec()));
    let s = m.half_normal("s", 1.0, ()).unwrap();
    m.normal("z", 0.0, &s, ())
        .unwrap()
        .observed(Tensor::vector(z.to_vec()));
    let map = m
        .find_map(3000, Optimizer::adam().with_learning_rate(0.05))
        .unwrap();
    let mu_hat = y.iter().sum::<f64>() / (y.len() as f64 + 0.01);
    let (n, ss) = (z.len() as f64, z.iter().map(|v| v * v).sum::<f64>());
    let s_hat = ((-n + (n * n + 4.0 * ss).sqrt()) / 2.0).sqrt();
    let got_mu = map.value("mu").unwrap().item::<f64>().unwrap();
    let got_s = map.value("s").unwrap().item::<f64>().unwrap();
    assert!((got_mu - mu_hat).abs() < 1e-4, "{got_mu} vs {mu_hat}");
    assert!((got_s - s_hat).abs() < 1e-4, "{got_s} vs {s_hat}");
    // The loss fell to -logp at the mode.
    assert!(map.hist().last().unwrap() < &map.hist()[0]);
    // node: an expression at the estimate.
    let twice = function(
        theon::prelude::NO_INPUTS,
        &[&map.node(&(mu.var() * 2.0).unwrap()).unwrap()],
    )
    .unwrap()
    .call::<Tensor>(&[])
    .unwrap()[0]
        .item::<f64>()
        .unwrap();
    assert_eq!(twice, 2.0 * got_mu);
    assert!(map.value("nope").is_err());
}

#[test]
fn the_hierarchical_network_beats_separate_and_pooled_networks_on_one_seed() {
    // The example's recipe, shortened: 18 rotated two-moons tasks (seed 0),
    // 3000 ADVI steps per model, 200 predictive draws.
    use theon_examples::data::rotated_moons;
    use theon_examples::models::{Pooling, task_bnn};
    let data = rotated_moons(18, 100, 0.3, 0).unwrap();
    let xs = Var::input(
        "xs",
        TensorType::new(DType::F64, vec![Some(18), None, Some(2)]),
    );
    let accuracy = |pooling| {
        let bnn = task_bnn(pooling, &data.x_train, &data.y_train, 0).unwrap();
        let approx = bnn
            .model
            .fit(
                3000,
                Advi::new()
                    .seed(0)
                    .optimizer(Optimizer::adam().with_learning_rate(0.01))
                    .start_sigma(0.1)
                    .progressbar(false),
            )
            .unwrap();
        let node = approx
            .sample_node(&bnn.p, 200)
            .unwrap()
            .replace(&bnn.input, &xs)
            .unwrap();
        let p = function(&[&xs], &[&node])
            .unwrap()
            .call(&[&data.x_test])
            .unwrap()
            .remove(0);
        assert_eq!(p.shape(), &[200, 18, 50]);
        let (p, y) = (p.to_f64_vec(), data.y_test.to_f64_vec());
        let hits = (0..18 * 50)
            .filter(|&k| {
                let m = (0..200).map(|d| p[d * 900 + k]).sum::<f64>() / 200.0;
                (m > 0.5) == (y[k] > 0.5)
            })
            .count();
        hits as f64 / 900.0
    };
    let (sep, pooled, hier) = (
        accuracy(Pooling::Separate),
        accuracy(Pooling::Pooled),
        accuracy(Pooling::Hierarchical),
    );
    assert!(
        hier > sep + 0.02 && sep > pooled,
        "hierarchical {hier}, separate {sep}, pooled {pooled}"
    );
}

#[test]
fn the_hierarchical_model_prints_as_pymc_would() {
    use theon_examples::data::rotated_moons;
    use theon_examples::models::{Pooling, task_bnn};
    let data = rotated_moons(18, 100, 0.3, 0).unwrap();
    let bnn = task_bnn(Pooling::Hierarchical, &data.x_train, &data.y_train, 0).unwrap();
    insta::assert_snapshot!(bnn.model.to_string());
}

#[test]
fn a_two_layer_network_is_a_product_a_bias_add_and_an_activation_per_layer() {
    use theon::compiler::rewrite::Rewrites;
    use theon::compiler::{Mode, PrintOptions};
    let m = Model::new();
    let x = tensor_with_shape("x", DType::F64, &[None, Some(2)]);
    let net = nn::Sequential::new(&m, "net")
        .dense(3, nn::Tanh)
        .unwrap()
        .dense(1, nn::Sigmoid)
        .unwrap();
    let p = net.forward(&x).unwrap();
    let free = m.free_vars();
    let mut inputs: Vec<&Var> = vec![&x];
    inputs.extend(free.iter().map(|(_, v)| v));
    let written = compile(&inputs, &[&p])
        .rewrites(Rewrites::None)
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let optimized = compile(&inputs, &[&p])
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    insta::assert_snapshot!(format!(
        "as written:\n{}\nafter the rewrites:\n{}",
        written.debugprint(PrintOptions { types: true }),
        optimized.debugprint(PrintOptions { types: true })
    ));
}

#[test]
fn a_network_is_checked_whole_before_any_variable_is_made() {
    // A hierarchical layer without groups fails before the first layer's
    // weights enter the model; retrying gives the same error, no duplicate.
    let m = Model::new();
    let x = Var::input("x", TensorType::new(DType::F64, vec![None, Some(2)]));
    let net = nn::Sequential::new(&m, "net")
        .dense(5, nn::Tanh)
        .unwrap()
        .prior(nn::Prior::hierarchical(nn::Scale::HalfNormal(1.0)))
        .dense(1, nn::Identity)
        .unwrap();
    for _ in 0..2 {
        let e = net.forward(&x).unwrap_err();
        assert!(
            e.message().contains("net.dense1.w") && e.message().contains("groups"),
            "{e}"
        );
        assert!(m.free_vars().is_empty());
    }
    // Clones that grow different layers are different networks: the
    // second one's weights would reuse the names, which the model refuses.
    let m = Model::new();
    let base = nn::Sequential::new(&m, "net").dense(5, nn::Tanh).unwrap();
    let a = base.clone().dense(1, nn::Sigmoid).unwrap();
    let b = base.clone().dense(3, nn::Softmax).unwrap();
    assert_eq!(
        a.forward(&x).unwrap().static_shape().to_vec(),
        [None, Some(1)]
    );
    let e = b.forward(&x).unwrap_err();
    assert!(e.message().contains("net.dense0.w"), "{e}");
    // A built network takes no new groups or layers; bad settings are
    // errors naming the layer.
    assert!(a.clone().groups(2).is_err());
    assert!(a.clone().dense(2, nn::Tanh).is_err());
    let e = nn::Sequential::new(&m, "q")
        .init(nn::Init::Normal(f64::NAN))
        .dense(2, nn::Tanh)
        .unwrap_err();
    assert!(e.message().contains("q.dense0"), "{e}");
    let e = nn::Sequential::new(&Model::new(), "c")
        .prior(nn::Prior::custom(|m, name, _| {
            Ok(m.normal(name, 0.0, 1.0, [2, 1])?.var().clone())
        }))
        .dense(4, nn::Tanh)
        .unwrap()
        .forward(&x)
        .unwrap_err();
    assert!(e.message().contains("custom prior"), "{e}");
}

#[test]
fn learned_and_hierarchical_weights_compose_as_documented() {
    // Non-centred learned scale: w = s * raw. Hierarchical: w_g = mean +
    // sd * raw_g. The outputs at chosen values, against sums by hand.
    let x = Var::input("x", TensorType::new(DType::F64, vec![None, Some(2)]));
    let m = Model::new();
    let out = nn::Sequential::new(&m, "n")
        .prior(nn::Prior::learned(nn::Scale::HalfNormal(1.0)))
        .bias(false)
        .dense(2, nn::Identity)
        .unwrap()
        .forward(&x)
        .unwrap();
    let free = m.free_vars();
    let f = function(&[&x, &free[0].1, &free[1].1], &[&out]).unwrap();
    let raw = [0.5, -1.0, 2.0, 0.25];
    let got = f
        .call(&[
            Tensor::new(vec![1.0, 3.0], &[1, 2]).unwrap(),
            Tensor::scalar(2.0),
            Tensor::new(raw.to_vec(), &[2, 2]).unwrap(),
        ])
        .unwrap()[0]
        .to_f64_vec();
    let want = [2.0 * (raw[0] + 3.0 * raw[2]), 2.0 * (raw[1] + 3.0 * raw[3])];
    assert_eq!(got, want);

    let m = Model::new();
    let xg = Var::input(
        "xg",
        TensorType::new(DType::F64, vec![Some(2), Some(1), Some(1)]),
    );
    let out = nn::Sequential::new(&m, "h")
        .groups(2)
        .unwrap()
        .prior(nn::Prior::hierarchical(nn::Scale::HalfNormal(1.0)))
        .bias(false)
        .dense(1, nn::Identity)
        .unwrap()
        .forward(&xg)
        .unwrap();
    let free = m.free_vars();
    let inputs: Vec<&Var> = std::iter::once(&xg)
        .chain(free.iter().map(|(_, v)| v))
        .collect();
    let f = function(&inputs, &[&out]).unwrap();
    let got = f
        .call(&[
            Tensor::new(vec![2.0, -1.0], &[2, 1, 1]).unwrap(),
            Tensor::new(vec![0.5], &[1, 1]).unwrap(),
            Tensor::scalar(3.0),
            Tensor::new(vec![1.0, -2.0], &[2, 1, 1]).unwrap(),
        ])
        .unwrap()[0]
        .to_f64_vec();
    assert_eq!(got, [2.0 * (0.5 + 3.0 * 1.0), -(0.5 + 3.0 * -2.0)]);
}

#[test]
fn a_layer_start_can_be_overridden_through_the_model() {
    let m = Model::new();
    let x = Var::input("x", TensorType::new(DType::F64, vec![None, Some(2)]));
    nn::Sequential::new(&m, "net")
        .dense(2, nn::Tanh)
        .unwrap()
        .forward(&x)
        .unwrap();
    let w = Tensor::new(vec![0.1, 0.2, 0.3, 0.4], &[2, 2]).unwrap();
    m.set_initial("net.dense0.w", w.clone()).unwrap();
    assert_eq!(m.initial_point().unwrap()[0].1, w);
    let e = m
        .set_initial("net.dense0.w", Tensor::vector(vec![1.0]))
        .unwrap_err();
    assert!(e.message().contains("net.dense0.w"), "{e}");
    let e = m.set_initial("net.dense9.w", w).unwrap_err();
    assert!(e.message().contains("net.dense9.w"), "{e}");
    let e = m
        .set_initial("net.dense0.b", Tensor::vector(vec![f64::NAN, 0.0]))
        .unwrap_err();
    assert!(e.message().contains("non-finite"), "{e}");
}

/// A 1-channel 4x4 image batch, values by a formula.
fn images(n: usize, c: usize) -> Tensor {
    let v: Vec<f64> = (0..n * c * 16)
        .map(|k| ((k * 7) % 11) as f64 / 10.0 - 0.5)
        .collect();
    Tensor::new(v, &[n, c, 4, 4]).unwrap()
}

#[test]
fn convolution_layers_are_named_shaped_and_checked() {
    let m = Model::new();
    let x = Var::input(
        "x",
        TensorType::new(DType::F64, vec![None, Some(1), Some(4), Some(4)]),
    );
    let same = Conv2d::new().padding(Padding::Same);
    let net = nn::Sequential::new(&m, "cnn")
        .conv2d_with(3, 3, same, nn::Tanh)
        .unwrap()
        .max_pool2d(Pool2d::new(2))
        .unwrap()
        .bias(false)
        .conv2d(2, 2, nn::Relu)
        .unwrap()
        .flatten()
        .unwrap()
        .dense(5, nn::Softmax)
        .unwrap();
    let p = net.forward(&x).unwrap();
    assert_eq!(p.static_shape().to_vec(), [None, Some(5)]);
    let names: Vec<String> = m.free_vars().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["cnn.conv0.w", "cnn.conv0.b", "cnn.conv1.w", "cnn.dense0.w"]
    );
    let shape = |n: &str| m.var(n).unwrap().static_shape().to_vec();
    assert_eq!(shape("cnn.conv0.w"), [Some(3), Some(1), Some(3), Some(3)]);
    assert_eq!(shape("cnn.conv0.b"), [Some(3), Some(1), Some(1)]);
    // 4x4 -> same 4x4 -> pool 2x2 -> valid 2x2 conv 1x1 x 2 channels = 2 features.
    assert_eq!(shape("cnn.conv1.w"), [Some(2), Some(3), Some(2), Some(2)]);
    assert_eq!(shape("cnn.dense0.w"), [Some(2), Some(5)]);
    // Errors name the layer: channels on a later call, a kernel larger
    // than its input before anything is made, flat inputs.
    let rgb = Var::input(
        "rgb",
        TensorType::new(DType::F64, vec![None, Some(3), Some(4), Some(4)]),
    );
    let e = net.forward(&rgb).unwrap_err();
    assert!(
        e.message()
            .contains("cnn.conv0: input has 3 channels, the layer was built for 1"),
        "{e}"
    );
    let m2 = Model::new();
    let e = nn::Sequential::new(&m2, "big")
        .conv2d(1, 5, nn::Tanh)
        .unwrap()
        .forward(&x)
        .unwrap_err();
    assert!(
        e.message().contains("big.conv0") && e.message().contains("larger than the padded input"),
        "{e}"
    );
    assert!(
        m2.free_vars().is_empty(),
        "nothing is made before the checks pass"
    );
    let flat = Var::input("f", TensorType::new(DType::F64, vec![None, Some(16)]));
    let e = nn::Sequential::new(&m2, "flat")
        .conv2d(1, 3, nn::Tanh)
        .unwrap()
        .forward(&flat)
        .unwrap_err();
    assert!(
        e.message()
            .contains("flat.conv0: a convolution takes [rows, channels, height, width]"),
        "{e}"
    );
    assert!(
        nn::Sequential::new(&m2, "z")
            .conv2d(0, 3, nn::Tanh)
            .is_err()
    );
}

#[test]
fn a_convolution_layer_computes_the_hand_written_expression() {
    // conv (2 filters, 3x3, same) + bias + tanh -> avg pool -> flatten -> dense:
    // the layer network's output equals the same expression written by hand
    // on the same weights, exactly.
    let m = Model::new();
    let x = Var::input(
        "x",
        TensorType::new(DType::F64, vec![None, Some(1), Some(4), Some(4)]),
    );
    let same = Conv2d::new().padding(Padding::Same);
    let net = nn::Sequential::new(&m, "n")
        .conv2d_with(2, 3, same, nn::Tanh)
        .unwrap()
        .avg_pool2d(Pool2d::new(2))
        .unwrap()
        .flatten()
        .unwrap()
        .dense(3, nn::Identity)
        .unwrap();
    let out = net.forward(&x).unwrap();
    let free = m.free_vars();
    let v = |n: &str| free.iter().find(|(k, _)| k == n).unwrap().1.clone();
    let (w, b, dw, db) = (
        v("n.conv0.w"),
        v("n.conv0.b"),
        v("n.dense0.w"),
        v("n.dense0.b"),
    );
    let hand = ((x.conv2d(&w, same).unwrap() + &b).unwrap().tanh())
        .avg_pool2d(Pool2d::new(2))
        .unwrap()
        .reshape([-1, 8])
        .unwrap()
        .dot(&dw)
        .unwrap();
    let hand = (hand + &db).unwrap();
    let point = m.initial_point().unwrap();
    let at = |n: &str| point.iter().find(|(k, _)| k == n).unwrap().1.clone();
    let f = function(&[&x, &w, &b, &dw, &db], &[&out, &hand]).unwrap();
    let r = f
        .call(&[
            images(5, 1),
            at("n.conv0.w"),
            Tensor::new(vec![0.1, -0.2], &[2, 1, 1]).unwrap(),
            at("n.dense0.w"),
            Tensor::vector(vec![0.0, 0.5, -0.5]),
        ])
        .unwrap();
    assert_eq!(r[0].shape(), &[5, 3]);
    assert_eq!(r[0].to_f64_vec(), r[1].to_f64_vec());
    // Glorot starts for a conv: sd sqrt(2 / (9·1 + 9·2)).
    let w0 = at("n.conv0.w").to_f64_vec();
    let sd = (w0.iter().map(|v| v * v).sum::<f64>() / w0.len() as f64).sqrt();
    assert!(sd > 0.1 && sd < 0.5, "{sd}");
}

#[test]
fn grouped_convolution_layers_apply_each_groups_own_kernels() {
    // Two networks side by side (groups): group g's output is the
    // convolution of x[g] by w[g] plus b[g], checked against a network
    // without groups evaluated on each group's slice.
    let x = Var::input(
        "x",
        TensorType::new(DType::F64, vec![Some(2), None, Some(1), Some(4), Some(4)]),
    );
    let grouped = |m: &Model, prior: nn::Prior| {
        nn::Sequential::new(m, "g")
            .groups(2)
            .unwrap()
            .prior(prior)
            .conv2d(3, 2, nn::Identity)
            .unwrap()
            .forward(&x)
            .unwrap()
    };
    // A learned scale per unit is one per group and filter.
    let ml = Model::new();
    let out = grouped(
        &ml,
        nn::Prior::learned(nn::Scale::HalfNormal(1.0)).per_unit(),
    );
    assert_eq!(
        out.static_shape().to_vec(),
        [Some(2), None, Some(3), Some(3), Some(3)]
    );
    let shape = |n: &str| ml.var(n).unwrap().static_shape().to_vec();
    assert_eq!(
        shape("g.conv0.w_raw"),
        [Some(2), Some(3), Some(1), Some(2), Some(2)]
    );
    assert_eq!(
        shape("g.conv0.w_scale"),
        [Some(2), Some(3), Some(1), Some(1), Some(1)]
    );
    assert_eq!(
        shape("g.conv0.b"),
        [Some(2), Some(1), Some(3), Some(1), Some(1)]
    );
    let m = Model::new();
    let out = grouped(&m, nn::Prior::normal(1.0));
    let w = m.var("g.conv0.w").unwrap();
    let b = m.var("g.conv0.b").unwrap();
    let xs = images(6, 1);
    let xv = Tensor::new(xs.to_f64_vec(), &[2, 3, 1, 4, 4]).unwrap();
    let wv = Tensor::new(
        (0..24).map(|k| (k as f64 * 0.37).sin()).collect::<Vec<_>>(),
        &[2, 3, 1, 2, 2],
    )
    .unwrap();
    let bv = Tensor::new(vec![0.1, 0.2, 0.3, -0.1, -0.2, -0.3], &[2, 1, 3, 1, 1]).unwrap();
    let f = function(&[&x, &w, &b], &[&out]).unwrap();
    let got = f.call(&[xv, wv.clone(), bv.clone()]).unwrap()[0].to_f64_vec();
    let x1 = Var::input("x1", TensorType::fixed(DType::F64, &[3, 1, 4, 4]));
    let w1 = Var::input("w1", TensorType::fixed(DType::F64, &[3, 1, 2, 2]));
    let b1 = Var::input("b1", TensorType::fixed(DType::F64, &[3, 1, 1]));
    let one = function(
        &[&x1, &w1, &b1],
        &[&(x1.conv2d(&w1, Conv2d::new()).unwrap() + &b1).unwrap()],
    )
    .unwrap();
    let (xv, wv, bv) = (xs.to_f64_vec(), wv.to_f64_vec(), bv.to_f64_vec());
    for g in 0..2 {
        let want = one
            .call(&[
                Tensor::new(xv[g * 48..(g + 1) * 48].to_vec(), &[3, 1, 4, 4]).unwrap(),
                Tensor::new(wv[g * 12..(g + 1) * 12].to_vec(), &[3, 1, 2, 2]).unwrap(),
                Tensor::new(bv[g * 3..(g + 1) * 3].to_vec(), &[3, 1, 1]).unwrap(),
            ])
            .unwrap()[0]
            .to_f64_vec();
        assert_eq!(&got[g * 81..(g + 1) * 81], want.as_slice(), "group {g}");
    }
}

#[test]
fn advi_with_several_draws_per_step_fits_a_convolutional_network() {
    // obj_n_mc > 1 vectorizes the model over draws of the kernels before
    // differentiating: the data stay unbatched, the kernels are batched.
    let m = Model::new();
    let x = m.data("x", images(6, 1)).unwrap();
    let y = m
        .data("y", Tensor::vector(vec![0i64, 1, 0, 1, 1, 0]))
        .unwrap();
    let net = nn::Sequential::new(&m, "c")
        .conv2d(2, 3, nn::Tanh)
        .unwrap()
        .flatten()
        .unwrap()
        .dense(2, nn::Identity)
        .unwrap();
    let logits = net.forward(&x).unwrap();
    m.categorical_logit("out", &logits).unwrap().observed(&y);
    let a = m
        .fit(50, Advi::new().obj_n_mc(3).seed(1).progressbar(false))
        .unwrap();
    let h = a.hist();
    assert!(h.iter().all(|v| v.is_finite()) && h.len() == 50);
}
