// Upstream's built-in negative prompt (video_generate.py `MagiEvaluator.__init__`, pipeline.md
// §4.3): three pieces (visual, audio quality, speech) concatenated exactly as written. Used
// only by stages that run classifier-free guidance (cfg 2).
#include "pipeline/negative_prompt.h"

namespace canter::pipeline {

const std::string& default_negative_prompt() {
    static const std::string kPrompt =
        "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, im"
        "ages, static, overall gray, worst quality, low quality, JPEG compression residue, ugly, in"
        "complete, extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, mis"
        "shapen limbs, fused fingers, still picture, messy background, three legs, many people in t"
        "he background, walking backwards"
        ", low quality, worst quality, poor quality, noise, background noise, hiss, hum, buzz, crac"
        "kle, static, compression artifacts, MP3 artifacts, digital clipping, distortion, muffled, "
        "muddy, unclear, echo, reverb, room echo, over-reverberated, hollow sound, distant, washed "
        "out, harsh, shrill, piercing, grating, tinny, thin sound, boomy, bass-heavy, flat EQ, over"
        "-compressed, abrupt cut, jarring transition, sudden silence, looping artifact, music, inst"
        "rumental, sirens, alarms, crowd noise, unrelated sound effects, chaotic, disorganized, mes"
        "sy, cheap sound"
        ", emotionless, flat delivery, deadpan, lifeless, apathetic, robotic, mechanical, monotone,"
        " flat intonation, undynamic, boring, reading from a script, AI voice, synthetic, text-to-s"
        "peech, TTS, insincere, fake emotion, exaggerated, overly dramatic, melodramatic, cheesy, c"
        "ringey, hesitant, unconfident, tired, weak voice, stuttering, stammering, mumbling, slurre"
        "d speech, mispronounced, bad articulation, lisp, vocal fry, creaky voice, mouth clicks, li"
        "p smacks, wet mouth sounds, heavy breathing, audible inhales, plosives, p-pops, coughing, "
        "clearing throat, sneezing, speaking too fast, rushed, speaking too slow, dragged out, unna"
        "tural pauses, awkward silence, choppy, disjointed, multiple speakers, two voices, backgrou"
        "nd talking, out of tune, off-key, autotune artifacts";
    return kPrompt;
}

}  // namespace canter::pipeline
