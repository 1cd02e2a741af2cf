# Source at the start of every command on the device machine (see prepare.py):
#   source benchmarks/device/setup.sh && python benchmarks/bench_vsdbn.py --device cuda ...
# Installs the wheel part this call carries (.device/whl-N) into .device/site, which the
# warm machine keeps between calls, and points Python and Hugging Face at it.
for part in .device/whl-*; do
    [ -d "$part" ] || continue
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target .device/site "$part"/*.whl || return 1
done
export PYTHONPATH="$PWD/.device/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HOME="$PWD/.device/hf" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
python3 -c "import nilearn, papermill, spacy, anbn_utils" 2>/dev/null \
    && echo "ready: $(python3 -c 'import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device")')" \
    || echo "not every package is installed yet: carry the next .device/whl-N"
