//! A character-level language model: an LSTM trained on the Book of Genesis (KJV, public
//! domain, `data/text/`) to predict the next character, then sampled from.
//!
//! `cargo run --release --example char_lm -- --backend cpu|gpu|best --epochs N` (`--quick`: fewer
//! steps an epoch, for CI). Every run checks that the loss fell.

mod common;

use std::time::Instant;

use soma::autograd::{Rng, Tensor, no_grad};
use soma::device::{Device, Error, Result};
use soma::nn::{Adam, Embedding, Linear, Lstm, LstmState, Module, Optimizer, Param, clip_grad_norm, join, loss};

const TEXT: &str = include_str!("../data/text/genesis_kjv.txt");
const SEQ_LEN: usize = 48;
const BATCH: usize = 32;
const EMBED: usize = 32;
const HIDDEN: usize = 128;

/// The characters of the text, sorted: a character's id is its index.
struct Vocab {
    chars: Vec<char>,
}

impl Vocab {
    fn new(text: &str) -> Vocab {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocab { chars }
    }
    fn id(&self, c: char) -> Result<usize> {
        let unknown = || Error::invalid("char_lm", format!("{c:?} is not in the training text's vocabulary"));
        self.chars.binary_search(&c).map_err(|_| unknown())
    }
    fn encode(&self, text: &str) -> Result<Vec<usize>> {
        text.chars().map(|c| self.id(c)).collect()
    }
}

/// Embedding → LSTM → linear layer to one logit per character.
struct CharLm {
    embed: Embedding,
    lstm: Lstm,
    head: Linear,
}

impl CharLm {
    fn new(vocab: usize, device: &Device, rng: &mut Rng) -> Result<CharLm> {
        Ok(CharLm {
            embed: Embedding::new(vocab, EMBED, device, rng)?,
            lstm: Lstm::new(EMBED, HIDDEN, device, rng)?,
            head: Linear::new(HIDDEN, vocab, device, rng)?,
        })
    }
    /// Ids `[batch, time]` to logits `[batch, time, vocab]` and the final state.
    fn step(&self, ids: &Tensor, state: Option<&LstmState>) -> Result<(Tensor, LstmState)> {
        let (hidden, state) = self.lstm.forward_seq(&self.embed.forward(ids)?, state)?;
        Ok((self.head.forward(&hidden)?, state))
    }
}

impl Module for CharLm {
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        Ok(self.step(ids, None)?.0)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.embed.visit_params(&join(prefix, "embed"), f);
        self.lstm.visit_params(&join(prefix, "lstm"), f);
        self.head.visit_params(&join(prefix, "head"), f);
    }
}

/// `BATCH` random windows of `ids`: inputs `[BATCH, SEQ_LEN]` and the next characters as targets.
fn batch(ids: &[usize], rng: &mut Rng, device: &Device) -> Result<(Tensor, Tensor)> {
    if ids.len() <= SEQ_LEN {
        let msg = format!("a text of {} characters has no window of {SEQ_LEN} and a next character", ids.len());
        return Err(Error::invalid("char_lm", msg));
    }
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..BATCH {
        // Every window whose next characters fit, the last one included.
        let start = rng.below(ids.len() - SEQ_LEN);
        x.extend(ids[start..start + SEQ_LEN].iter().map(|&i| i as f32));
        y.extend(ids[start + 1..start + SEQ_LEN + 1].iter().map(|&i| i as f32));
    }
    Ok((Tensor::from_vec(x, [BATCH, SEQ_LEN], device)?, Tensor::from_vec(y, [BATCH * SEQ_LEN], device)?))
}

/// The mean cross-entropy (nats per character) of the model on a batch.
fn batch_loss(model: &CharLm, x: &Tensor, y: &Tensor, vocab: usize) -> Result<Tensor> {
    loss::cross_entropy(&model.forward(x)?.reshape([BATCH * SEQ_LEN, vocab])?, y)
}

/// Continues `prompt` by `len` characters, sampling at `temperature` (finite, > 0).
fn sample(model: &CharLm, vocab: &Vocab, prompt: &str, len: usize, temperature: f32, rng: &mut Rng) -> Result<String> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(Error::invalid("char_lm", format!("temperature must be finite and > 0, got {temperature}")));
    }
    no_grad(|| {
        let device = model.head.weight().get().device().clone();
        let ids: Vec<f32> = vocab.encode(prompt)?.iter().map(|&i| i as f32).collect();
        let (mut logits, mut state) = model.step(&Tensor::from_vec(ids.clone(), [1, ids.len()], &device)?, None)?;
        let mut text = prompt.to_string();
        for _ in 0..len {
            let last = logits.narrow(1, logits.dims()[1] - 1, 1)?.to_vec()?;
            let max = last.iter().cloned().fold(f32::MIN, f32::max);
            let weights: Vec<f32> = last.iter().map(|l| ((l - max) / temperature).exp()).collect();
            let mut target = rng.uniform() as f32 * weights.iter().sum::<f32>();
            let next = weights.iter().position(|w| {
                target -= w;
                target <= 0.0
            });
            let next = next.unwrap_or(weights.len() - 1);
            text.push(vocab.chars[next]);
            (logits, state) = model.step(&Tensor::from_vec(vec![next as f32], [1, 1], &device)?, Some(&state))?;
        }
        Ok(text)
    })
}

fn main() -> Result<()> {
    let args = common::Args::parse()?;
    let epochs = args.epochs_or(10, 1);
    let device = &args.device;
    let vocab = Vocab::new(TEXT);
    let ids = vocab.encode(TEXT)?;
    let (train_ids, valid_ids) = ids.split_at(ids.len() * 9 / 10);
    println!("device: {device}; {} characters, vocabulary of {}", ids.len(), vocab.chars.len());

    let mut rng = Rng::new(0);
    let model = CharLm::new(vocab.chars.len(), device, &mut rng)?;
    let mut optimizer = Adam::new(1e-2);
    let (valid_x, valid_y) = batch(valid_ids, &mut Rng::new(1), device)?;
    let steps_per_epoch = if args.quick { 30 } else { 100 };
    let (mut first_loss, mut last_loss) = (None, 0.0);
    for epoch in 1..=epochs {
        let start = Instant::now();
        let mut total = 0.0;
        for _ in 0..steps_per_epoch {
            let (x, y) = batch(train_ids, &mut rng, device)?;
            let loss = batch_loss(&model, &x, &y, vocab.chars.len())?;
            let mut grads = loss.backward()?;
            clip_grad_norm(&mut grads, &model.parameters(), 1.0)?;
            optimizer.step(&model, &grads)?;
            let value = loss.item()?;
            first_loss.get_or_insert(value);
            total += value;
        }
        let valid = no_grad(|| batch_loss(&model, &valid_x, &valid_y, vocab.chars.len())?.item())?;
        last_loss = total / steps_per_epoch as f32;
        let seconds = start.elapsed().as_secs_f32();
        println!("epoch {epoch}: train loss {last_loss:.3}, validation loss {valid:.3} nats/char ({seconds:.1} s)");
    }
    let text = sample(&model, &vocab, "And God said", 300, 0.8, &mut Rng::new(2))?;
    println!("--- sample ---\n{text}\n--------------");

    if let Some(first) = first_loss
        && (last_loss.is_nan() || last_loss >= 0.85 * first)
    {
        return Err(Error::invalid("char_lm", format!("the loss did not fall: {first:.3} → {last_loss:.3}")));
    }
    Ok(())
}
