//! The verification page's captcha (VER-4): six digits drawn as a distorted PNG. The digits
//! come from a built-in 5×7 bitmap, scaled, shifted and sheared per digit, over noise.

use image::{GrayImage, Luma};
use rand::Rng;

const GLYPHS: [(char, [u8; 7]); 8] = [
    ('2', [0b01110, 0b10001, 0b00001, 0b00110, 0b01000, 0b10000, 0b11111]),
    ('3', [0b11110, 0b00001, 0b00001, 0b01110, 0b00001, 0b00001, 0b11110]),
    ('4', [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010]),
    ('5', [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110]),
    ('6', [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110]),
    ('7', [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000]),
    ('8', [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110]),
    ('9', [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100]),
];

/// Number of characters of an answer.
pub const LENGTH: usize = 6;

/// A new random answer (digits 2-9, never ambiguous ones).
pub fn answer() -> String {
    let mut rng = rand::thread_rng();
    (0..LENGTH).map(|_| GLYPHS[rng.gen_range(0..GLYPHS.len())].0).collect()
}

/// Pixels between the starts of two digits.
const PITCH: u32 = 52;

/// The PNG image of `text`: large, dark, slightly varied digits (a person reads them at once on
/// a phone, the page draws the image at up to 24 rem wide) over light noise and a thin light line
/// across the digits (a plain template match finds no clean outline).
pub fn image_png(text: &str) -> Vec<u8> {
    let mut rng = rand::thread_rng();
    let (w, h) = (PITCH * text.len() as u32 + 24, 84u32);
    let mut img = GrayImage::from_pixel(w, h, Luma([250]));
    for _ in 0..(w * h / 10) {
        let (x, y) = (rng.gen_range(0..w), rng.gen_range(0..h));
        img.put_pixel(x, y, Luma([rng.gen_range(175..235)]));
    }
    for (i, c) in text.chars().enumerate() {
        let Some((_, rows)) = GLYPHS.iter().find(|(g, _)| *g == c) else { continue };
        let scale = 7;
        let x0 = 14 + i as i32 * PITCH as i32 + rng.gen_range(-3..=3);
        let y0 = 14 + rng.gen_range(-6..=6);
        let shear: f32 = rng.gen_range(-0.15..0.15);
        let ink = rng.gen_range(0..40u8);
        for (ry, bits) in rows.iter().enumerate() {
            for rx in 0..5 {
                if bits & (1 << (4 - rx)) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let y = y0 + ry as i32 * scale + dy;
                        let x = x0 + rx * scale + dx + (shear * (y - y0) as f32) as i32;
                        if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                            img.put_pixel(x as u32, y as u32, Luma([ink]));
                        }
                    }
                }
            }
        }
    }
    for _ in 0..1 {
        let (mut x, mut y) = (0f32, rng.gen_range(h / 4..3 * h / 4) as f32);
        let slope: f32 = rng.gen_range(-0.2..0.2);
        while (x as u32) < w {
            for t in 0..2 {
                let yy = y as i64 + t;
                if yy >= 0 && (yy as u32) < h {
                    img.put_pixel(x as u32, yy as u32, Luma([235]));
                }
            }
            x += 1.0;
            y += slope;
        }
    }
    let mut out = Vec::new();
    let _ = image::DynamicImage::ImageLuma8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

/// An arithmetic question in words, the accessible alternative to the image: its text and answer.
pub fn spoken_question(lang: &str) -> (String, String) {
    const IT: [&str; 10] = ["zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"];
    const EN: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
    let mut rng = rand::thread_rng();
    let (a, b) = (rng.gen_range(1..10usize), rng.gen_range(1..10usize));
    let q = match lang {
        "en" => format!("What is {} plus {}? Write the result in digits.", EN[a], EN[b]),
        _ => format!("Quanto fa {} più {}? Scrivi il risultato in cifre.", IT[a], IT[b]),
    };
    (q, (a + b).to_string())
}
