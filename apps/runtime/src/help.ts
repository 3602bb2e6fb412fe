// `--help` marks the options a command cannot run without (commander's `requiredOption`), so the user sees that
// `zone create` needs `--name` before meeting the error (R-CLI).
import { Help, type HelpConfiguration, type Option } from 'commander';

export const HELP_CONFIGURATION: HelpConfiguration = {
  optionDescription(this: Help, option: Option): string {
    const description = Help.prototype.optionDescription.call(this, option);
    return option.mandatory ? `${description} (required)` : description;
  },
};
