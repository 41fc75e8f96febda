// The editor: prompt and settings, Generate/Cancel with progress, the engine's
// own words, the host's tempo (or a bpm field when it gives none), the output
// folder, the session's takes (each playable and draggable onto the timeline)
// and the sync playback and MIDI capture switches.  It only reads the processor
// and calls its message-thread methods.
#pragma once

#include "PluginProcessor.h"

#include <juce_audio_utils/juce_audio_utils.h>

class MusicGenBridgeEditor : public juce::AudioProcessorEditor,
                             public juce::DragAndDropContainer,
                             private juce::ChangeListener,
                             private juce::ListBoxModel
{
public:
    explicit MusicGenBridgeEditor (MusicGenBridgeProcessor&);
    ~MusicGenBridgeEditor() override;

    void paint (juce::Graphics&) override;
    void resized() override;

private:
    void changeListenerCallback (juce::ChangeBroadcaster*) override;
    void refresh();
    void pushSettings();

    // ListBoxModel: the takes
    int getNumRows() override;
    void paintListBoxItem (int row, juce::Graphics&, int width, int height, bool selected) override;
    void listBoxItemDoubleClicked (int row, const juce::MouseEvent&) override;
    void selectedRowsChanged (int lastRowSelected) override;
    void listBoxItemClicked (int row, const juce::MouseEvent&) override;

    void mouseDrag (const juce::MouseEvent&) override;

    MusicGenBridgeProcessor& processor;
    using SliderAttachment = juce::AudioProcessorValueTreeState::SliderAttachment;
    using ButtonAttachment = juce::AudioProcessorValueTreeState::ButtonAttachment;

    juce::Label title, engineLine, hostLine, takeLine, noticeLine, melodyLine, folderLine;
    juce::Label promptLabel, barsLabel, variationsLabel, seedLabel, loudnessLabel, modelLabel, anchorLabel, bpmLabel,
        connectLabel, takesLabel;
    juce::TextEditor prompt, seed, bpmField, timesigField, hostField, portField, tokenField;
    juce::Slider bars, variations, anchor;
    juce::ComboBox loudness, model;
    juce::TextButton dice { "Dice" }, generateButton { "Generate" }, cancelButton { "Cancel" },
        folderButton { "Folder..." }, hereButton { "Here" }, connectButton { "Connect" }, modelsButton { "Refresh" },
        playTakeButton { "Play take" }, dragButton { "Drag to timeline" }, clearMelody { "Clear" };
    juce::ToggleButton playSync { "Play in sync" }, loop { "Loop" }, capture { "Capture MIDI" };
    double progressValue = 0.0;
    juce::ProgressBar progress { progressValue };
    juce::ListBox takes { "Takes", this };
    std::unique_ptr<juce::FileChooser> chooser;

    SliderAttachment barsAttachment, variationsAttachment, anchorAttachment;
    ButtonAttachment playAttachment, loopAttachment, captureAttachment;

    JUCE_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR (MusicGenBridgeEditor)
};
