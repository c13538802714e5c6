"""Runs inside the veRL side environment (scripts/verl-side.sh): what veRL itself does with an export.

    PYTHONPATH=SIDE_DIR python tests/verl_probe.py JOBS.json OUT.json

Each job holds the launch script's arguments (as the script passed them to `python3 -m verl.trainer.main_ppo`)
and a list of response texts. For each job this composes veRL's own `ppo_trainer` config with those overrides
through Hydra (unknown keys fail), runs veRL's `validate_config`, builds the tokenizer the way veRL's trainer
does (HFModelConfig, which applies `custom_chat_template`), reads the train parquet with veRL's dataset
(RLHFDataset via create_rl_dataset), renders the prompts through veRL's agent loop (AgentLoopWorker with its
single-turn loop) against a stand-in inference server that records the prompt tokens it is sent and answers
with the job's responses, and scores those responses with veRL's reward worker (RewardLoopWorker, which loads
the custom reward file). It reports what it saw; tests/test_verl_real.py compares that with the toolkit.
Only veRL, Hydra and transformers are imported here, never the toolkit.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import verl

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return hydra_compose(config_name="ppo_trainer", overrides=overrides)


class StandInServer:
    """The LLM server veRL's agent loop talks to: records each prompt's tokens and answers with the scripted
    reply of the problem whose prompt text it was sent (the agent loop's requests arrive in any order)."""

    def __init__(self, tokenizer, prompts: list[str], replies: list[list[int]]):
        self.tokenizer, self.texts, self.replies, self.received = tokenizer, prompts, replies, []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **_):
        from verl.workers.rollout.replica import TokenOutput

        self.received.append([int(t) for t in prompt_ids])
        seen = self.tokenizer.decode(prompt_ids)
        (index,) = [i for i, text in enumerate(self.texts) if text in seen]
        return TokenOutput(token_ids=self.replies[index], stop_reason="completed")


def run_job(job: dict) -> dict:
    from omegaconf import OmegaConf

    import verl
    from verl import DataProto
    from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker, migrate_legacy_reward_impl
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.trainer.ppo.utils import create_rl_dataset, need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config
    from verl.utils.dataset.rl_dataset import collate_fn

    report: dict = {"verl_version": verl.__version__}
    try:
        config = compose(job["overrides"])
    except Exception as exc:  # an unknown key or a value Hydra cannot parse
        return {**report, "composed": False, "error": f"{type(exc).__name__}: {exc}"}
    report["composed"] = True
    selected = {key: OmegaConf.select(config, key) for key in job.get("keys", [])}
    report["config"] = {k: OmegaConf.to_container(v) if OmegaConf.is_config(v) else v for k, v in selected.items()}
    validate_config(config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    report["validated"] = True
    if not job.get("responses"):
        return report

    # the trainer's tokenizer and datasets (verl.trainer.ppo.v1.trainer_base: _init_tokenizer, _init_dataloader)
    model = omega_conf_to_dataclass(config.actor_rollout_ref.model)
    tokenizer = model.tokenizer
    dataset = create_rl_dataset(config.data.train_files, config.data, tokenizer, model.processor, is_train=True)
    items = [dataset[i] for i in range(len(job["responses"]))]
    report["ground_truths"] = [item["reward_model"]["ground_truth"] for item in items]

    replies = [tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
               for text in job["responses"]]
    server = StandInServer(tokenizer, [item["raw_prompt"][-1]["content"] for item in items], replies)
    loop = asyncio.new_event_loop()   # veRL's workers keep the loop that exists when they are built
    asyncio.set_event_loop(loop)
    worker = AgentLoopWorker(config, llm_client=server)
    batch = DataProto.from_single_dict(collate_fn(items))
    output = loop.run_until_complete(worker.generate_sequences(batch))
    # per batch item, in order: the prompt tokens (left padding dropped) and the response as veRL's reward
    # manager decodes it
    width = output.batch["prompts"].shape[1]
    mask = output.batch["attention_mask"]
    report["prompt_ids"] = [row[mask[i, :width].bool()].tolist() for i, row in enumerate(output.batch["prompts"])]
    report["server_received"] = server.received
    report["decoded_responses"] = [
        tokenizer.decode(row[: int(mask[i, width:].sum())], skip_special_tokens=True)
        for i, row in enumerate(output.batch["responses"])]

    config = migrate_legacy_reward_impl(config)
    rewards = RewardLoopWorker(config)
    report["reward_scores"] = [loop.run_until_complete(rewards.compute_score(output[i:i + 1]))["reward_score"]
                               for i in range(len(output))]
    # the same custom function called directly on the job's raw values (no tokenizer round trip), with the
    # first problem's ground truth
    function = get_custom_reward_fn(config)
    truth = report["ground_truths"][0]
    report["direct_scores"] = [function(data_source="countdown", solution_str=value, ground_truth=truth,
                                        extra_info={"index": 0}) for value in job.get("direct", [])]
    loop.close()
    return report


def main(jobs_path: str, out_path: str) -> int:
    with open(jobs_path, encoding="utf-8") as fh:
        jobs = json.load(fh)
    reports = {}
    for name, job in jobs.items():
        try:
            reports[name] = run_job(job)
        except Exception:
            reports[name] = {"crashed": traceback.format_exc()}
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(reports, fh, default=lambda x: x.tolist() if hasattr(x, "tolist") else str(x))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
